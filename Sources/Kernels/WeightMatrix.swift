import GGUF

/// A 2-D weight tensor as GGUF stores it: `rows` rows of `columns` values, each row a run of blocks.
public struct WeightMatrix: @unchecked Sendable {
    public let type: GGMLType
    public let rows: Int
    public let columns: Int
    public let data: UnsafeRawPointer
    public let rowBytes: Int

    public init(type: GGMLType, rows: Int, columns: Int, data: UnsafeRawPointer) {
        self.type = type
        self.rows = rows
        self.columns = columns
        self.data = data
        rowBytes = columns / type.blockGeometry.elements * type.blockGeometry.bytes
    }

    public var isFloat: Bool { type == .f32 || type == .f16 || type == .bf16 }

    /// How activations are quantized for this matrix.
    public var activationGrid: QuantizedActivations.Grid { .init(weights: type) }

    @inline(__always) public func row(_ r: Int) -> UnsafeRawPointer { data + r * rowBytes }

    /// Some of the rows, as a matrix of their own (a fused tensor's parts: Q, K and V; gate and up).
    public func rows(_ range: Range<Int>) -> WeightMatrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows)
        return WeightMatrix(type: type, rows: range.count, columns: columns, data: row(range.lowerBound))
    }

    /// Dequantizes row `r` into `out` (`columns` floats).
    public func dequantizeRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        Dequantize.row(type, row(r), out, count: columns)
    }

    /// out[t * rows + r] = row r · x_t for `tokens` activation vectors of `columns` values. Quantized
    /// types use `quantized` (x quantized to int8 blocks); float types use `x` directly. The first
    /// `tiled` tokens (a multiple of 8; default all whole groups of 8) go eight at a time.
    public func multiply(_ x: UnsafePointer<Float>, quantized: QuantizedActivations, tokens: Int, tiled: Int? = nil,
                         into out: UnsafeMutablePointer<Float>, pool: ThreadPool, kernel: DotKernel = .current) {
        let tiled = tiled ?? tokens / 8 * 8
        precondition(tiled % 8 == 0 && tiled <= tokens)
        pool.parallelFor(rows, granule: 4) { range in
            if type == .f16 {
                // Half-precision rows (an output matrix, often): F16C conversions where the CPU has them.
                for r in range {
                    let half = row(r).assumingMemoryBound(to: Float16.self)
                    for t in 0..<tokens { out[t * rows + r] = HalfVectors.dotInSteps(x + t * columns, half, count: columns) }
                }
            } else if isFloat {
                for r in range {
                    for t in 0..<tokens {
                        out[t * rows + r] = ScalarDot.dotFloat(type, row: row(r), x + t * columns, count: columns)
                    }
                }
            } else {
                kernel.multiply(type, data, rowBytes, range, quantized, columns, tokens, tiled, out, rows)
            }
        }
    }
}
