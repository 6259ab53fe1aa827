import GGUF
import KernelsAVX2
import KernelsAVX512

/// The integer dot-product implementation in use, chosen once from the CPU's features: AVX-512 VNNI
/// or AVX2 for the types they cover, the portable Swift path for everything else.
public struct DotKernel: Sendable {
    public let name: String
    /// For rows r of a matrix: out[t · stride + r] = row r · x_t, for `tokens` activation vectors of
    /// `count` values stored one after another.
    let multiply: @Sendable (GGMLType, _ data: UnsafeRawPointer, _ rowBytes: Int, Range<Int>, QuantizedActivations,
                             _ count: Int, _ tokens: Int, UnsafeMutablePointer<Float>, _ stride: Int) -> Void

    public static let portable = DotKernel(name: "portable") { type, data, rowBytes, rows, x, count, tokens, out, stride in
        for r in rows {
            for t in 0..<tokens { out[t * stride + r] = ScalarDot.dot(type, row: data + r * rowBytes, x, offset: t * count, count: count) }
        }
    }

    public static let avx2 = DotKernel(name: "avx2") { type, data, rowBytes, rows, x, count, tokens, out, stride in
        guard AVX2Dot.supportedTypeIDs.contains(type.rawValue) else {
            return portable.multiply(type, data, rowBytes, rows, x, count, tokens, out, stride)
        }
        AVX2Dot.multiply(typeID: type.rawValue, data: data, rowBytes: rowBytes, rows: rows, scales: x.scales, values: x.values,
                         blockSums: x.blockSums, scalesByBlock: x.scalesByBlock, sumsByBlock: x.sumsByBlock,
                         count: count, tokens: tokens, out: out, outStride: stride)
    }

    public static let vnni = DotKernel(name: "avx512-vnni") { type, data, rowBytes, rows, x, count, tokens, out, stride in
        guard AVX2Dot.supportedTypeIDs.contains(type.rawValue) else {
            return portable.multiply(type, data, rowBytes, rows, x, count, tokens, out, stride)
        }
        VNNIDot.multiply(typeID: type.rawValue, data: data, rowBytes: rowBytes, rows: rows, scales: x.scales, values: x.values,
                         blockSums: x.blockSums, scalesByBlock: x.scalesByBlock, sumsByBlock: x.sumsByBlock,
                         count: count, tokens: tokens, out: out, outStride: stride)
    }

    /// Every path this CPU can run, for tests that compare them.
    public static var available: [DotKernel] {
        [portable] + (CPUFeatures.hasAVX2 ? [avx2] : []) + (CPUFeatures.hasVNNI ? [vnni] : [])
    }

    /// `WICK_SIMD=portable` or `WICK_SIMD=avx2` caps the choice.
    public static let current: DotKernel = {
        guard CPUFeatures.useAVX2 else { return portable }
        return CPUFeatures.hasVNNI && CPUFeatures.requested != "avx2" ? vnni : avx2
    }()

    /// One row against one activation vector (the first `count` values of `x`).
    public func dot(_ type: GGMLType, _ row: UnsafeRawPointer, _ x: QuantizedActivations, count: Int) -> Float {
        var out: Float = 0
        multiply(type, row, 0, 0..<1, x, count, 1, &out, 1)
        return out
    }

    /// One row against `tokens` activation vectors (regrouped with `QuantizedActivations.regroup`).
    public func dot(_ type: GGMLType, _ row: UnsafeRawPointer, _ x: QuantizedActivations, count: Int, tokens: Int,
                    into out: UnsafeMutablePointer<Float>, stride: Int) {
        multiply(type, row, 0, 0..<1, x, count, tokens, out, stride)
    }
}
