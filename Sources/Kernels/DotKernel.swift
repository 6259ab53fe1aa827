import GGUF
import KernelsAVX2
import KernelsAVX512

/// The integer dot-product implementation in use, chosen once from the CPU's features: AVX-512 VNNI
/// or AVX2 for the types they cover, the portable Swift path for everything else.
public struct DotKernel: Sendable {
    public let name: String
    /// For rows r of a matrix: out[t · stride + r] = row r · x_t, for `tokens` activation vectors of
    /// `count` values stored one after another; SIMD paths take the first `tiled` (a multiple of 8)
    /// eight at a time.
    let multiply: @Sendable (GGMLType, _ data: UnsafeRawPointer, _ rowBytes: Int, Range<Int>, QuantizedActivations,
                             _ count: Int, _ tokens: Int, _ tiled: Int, UnsafeMutablePointer<Float>, _ stride: Int) -> Void

    public static let portable = DotKernel(name: "portable") { type, data, rowBytes, rows, x, count, tokens, _, out, stride in
        for r in rows {
            for t in 0..<tokens { out[t * stride + r] = ScalarDot.dot(type, row: data + r * rowBytes, x, offset: t * count, count: count) }
        }
    }

    public static let avx2 = simd("avx2", AVX2Dot.multiply)
    public static let vnni = simd("avx512-vnni", VNNIDot.multiply)

    /// A SIMD path for the types it covers, the portable one for the rest.
    private static func simd(_ name: String, _ run: @escaping @Sendable (
        _ typeID: UInt32, _ data: UnsafeRawPointer, _ rowBytes: Int, _ rows: Range<Int>, _ scales: UnsafePointer<Float>,
        _ values: UnsafePointer<Int8>, _ blockSums: UnsafePointer<Float>, _ scalesByBlock: UnsafePointer<Float>,
        _ sumsByBlock: UnsafePointer<Float>, _ count: Int, _ tokens: Int, _ tiled: Int, _ out: UnsafeMutablePointer<Float>, _ outStride: Int) -> Void
    ) -> DotKernel {
        DotKernel(name: name) { type, data, rowBytes, rows, x, count, tokens, tiled, out, stride in
            guard AVX2Dot.supportedTypeIDs.contains(type.rawValue) else {
                return portable.multiply(type, data, rowBytes, rows, x, count, tokens, tiled, out, stride)
            }
            run(type.rawValue, data, rowBytes, rows, x.scales, x.values, x.blockSums, x.scalesByBlock, x.sumsByBlock, count, tokens, tiled, out, stride)
        }
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
        multiply(type, row, 0, 0..<1, x, count, 1, 0, &out, 1)
        return out
    }

    /// One row against `tokens` activation vectors (regrouped with `QuantizedActivations.regroup`).
    public func dot(_ type: GGMLType, _ row: UnsafeRawPointer, _ x: QuantizedActivations, count: Int, tokens: Int,
                    into out: UnsafeMutablePointer<Float>, stride: Int) {
        multiply(type, row, 0, 0..<1, x, count, tokens, tokens / 8 * 8, out, stride)
    }
}
