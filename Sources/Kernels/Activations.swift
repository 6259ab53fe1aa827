import GGUF
import KernelsAVX2

/// Activations quantized on the fly for integer dot products: blocks of 32 values, each with a
/// float scale, 32 int8 values and the sum of each half (16 values), which the weight types with
/// offsets or minimums need.
public struct QuantizedActivations {
    public let count: Int
    public let scales: UnsafeMutablePointer<Float>
    public let values: UnsafeMutablePointer<Int8>
    public let halfSums: UnsafeMutablePointer<Int16>
    /// scale × (sum of the block's 32 values): what a weight minimum multiplies.
    public let blockSums: UnsafeMutablePointer<Float>
    /// `scales` and `blockSums` of a batch regrouped block-major ([block][token]), so a kernel can load
    /// the scales of consecutive tokens as one vector (filled by `regroup`).
    public let scalesByBlock: UnsafeMutablePointer<Float>
    public let sumsByBlock: UnsafeMutablePointer<Float>

    public init(capacity count: Int) {
        precondition(count % 32 == 0, "activation length must be a multiple of 32")
        self.count = count
        scales = .allocate(capacity: count / 32)
        values = .allocate(capacity: count)
        halfSums = .allocate(capacity: count / 16)
        blockSums = .allocate(capacity: count / 32)
        scalesByBlock = .allocate(capacity: count / 32)
        sumsByBlock = .allocate(capacity: count / 32)
    }

    public func deallocate() {
        scales.deallocate()
        values.deallocate()
        halfSums.deallocate()
        blockSums.deallocate()
        scalesByBlock.deallocate()
        sumsByBlock.deallocate()
    }

    /// Fills the block-major copies for `tokens` vectors of `columns` values each.
    public func regroup(tokens: Int, columns: Int) {
        let blocks = columns / 32
        for t in 0..<tokens {
            for b in 0..<blocks {
                scalesByBlock[b * tokens + t] = scales[t * blocks + b]
                sumsByBlock[b * tokens + t] = blockSums[t * blocks + b]
            }
        }
    }

    /// How activations are quantized for a weight type, as llama.cpp quantizes them, so the two
    /// engines round alike: `q8_0` (per-32 scales stored in half precision; Q4_0, Q5_0, Q8_0),
    /// `q8_1` (the same with the scaled sums in half precision; Q4_1, Q5_1), `q8_K` (one float scale
    /// per 256 values; the K-quants and IQ4_XS).
    public enum Grid: Sendable {
        case q8_0, q8_1, q8_K

        public init(weights: GGMLType) {
            switch weights {
            case .q4_1, .q5_1: self = .q8_1
            case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_xs: self = .q8_K
            default: self = .q8_0
            }
        }

        var scaleGroup: Int { self == .q8_K ? 8 : 1 }
        var halfScale: Bool { self != .q8_K }
        var halfSum: Bool { self == .q8_1 }
    }

    /// Quantizes `count` floats into the blocks starting at value `offset`: values x · 127 / max |x| over
    /// the grid's group rounded half to even (`QuantizationScale` gives the scale).
    public func quantize(_ x: UnsafePointer<Float>, into offset: Int = 0, count: Int, grid: Grid = .q8_0) {
        precondition(offset % 32 == 0 && count % (32 * grid.scaleGroup) == 0 && offset + count <= self.count)
        if CPUFeatures.useAVX2 {
            let b = offset / 32
            AVX2Quantize.blocks(x, count: count, scales: scales + b, values: values + offset, halfSums: halfSums + 2 * b,
                                blockSums: blockSums + b, scaleGroup: grid.scaleGroup, halfScale: grid.halfScale, halfSum: grid.halfSum)
        } else {
            quantizePortable(x, into: offset, count: count, grid: grid)
        }
    }

    func quantizePortable(_ x: UnsafePointer<Float>, into offset: Int, count: Int, grid: Grid) {
        var group = 0
        while group < count / 32 {
            var amax: Float = 0
            for j in (32 * group)..<(32 * (group + grid.scaleGroup)) { amax = max(amax, abs(x[j])) }
            let (d, inv) = QuantizationScale.of(maximum: amax, wholeScale: !grid.halfScale)
            let stored = grid.halfScale ? Float(Float16(d)) : d
            for blockIndex in group..<(group + grid.scaleGroup) {
                let src = x + 32 * blockIndex
                let b = offset / 32 + blockIndex
                let dst = values + 32 * b
                var s0: Int16 = 0, s1: Int16 = 0
                for j in 0..<32 {
                    // Adding and taking away 1.5 · 2^23 rounds half to even, as the vector path does, without libm.
                    let q = Int8((src[j] * inv + 12_582_912) - 12_582_912)
                    dst[j] = q
                    if j < 16 { s0 &+= Int16(q) } else { s1 &+= Int16(q) }
                }
                scales[b] = stored
                halfSums[2 * b] = s0
                halfSums[2 * b + 1] = s1
                let sum = Float(Int32(s0) + Int32(s1))
                blockSums[b] = grid.halfSum ? Float(Float16(d * sum)) : stored * sum
            }
            group += grid.scaleGroup
        }
    }
}
