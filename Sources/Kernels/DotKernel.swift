import GGUF
import KernelsAVX2

/// The integer dot-product implementation in use, chosen once from the CPU's features: AVX2 for
/// the types it covers where the CPU has it, the portable Swift path for everything else.
public struct DotKernel: Sendable {
    public let name: String
    /// out[t · outStride] = row · x_t for `tokens` activation vectors of `count` values, stored one after another.
    let rows: @Sendable (GGMLType, UnsafeRawPointer, QuantizedActivations, Int, Int, UnsafeMutablePointer<Float>, Int) -> Void

    public static let portable = DotKernel(name: "portable") { type, row, x, count, tokens, out, stride in
        for t in 0..<tokens { out[t * stride] = ScalarDot.dot(type, row: row, x, offset: t * count, count: count) }
    }

    public static let avx2 = DotKernel(name: "avx2") { type, row, x, count, tokens, out, stride in
        guard AVX2Dot.supportedTypeIDs.contains(type.rawValue) else {
            return portable.rows(type, row, x, count, tokens, out, stride)
        }
        AVX2Dot.dot(typeID: type.rawValue, row: row, scales: x.scales, values: x.values, halfSums: x.halfSums,
                    count: count, tokens: tokens, out: out, outStride: stride)
    }

    /// Every path this CPU can run, for tests that compare them.
    public static var available: [DotKernel] { CPUFeatures.hasAVX2 ? [portable, avx2] : [portable] }

    public static let current: DotKernel = CPUFeatures.hasAVX2 && !CPUFeatures.forcedPortable ? avx2 : portable

    /// One row against one activation vector (the first `count` values of `x`).
    public func dot(_ type: GGMLType, _ row: UnsafeRawPointer, _ x: QuantizedActivations, count: Int) -> Float {
        var out: Float = 0
        rows(type, row, x, count, 1, &out, 1)
        return out
    }

    /// One row against `tokens` activation vectors.
    @inline(__always)
    public func dot(_ type: GGMLType, _ row: UnsafeRawPointer, _ x: QuantizedActivations, count: Int, tokens: Int,
                    into out: UnsafeMutablePointer<Float>, stride: Int) {
        rows(type, row, x, count, tokens, out, stride)
    }
}
