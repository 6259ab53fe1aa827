import KernelsAVX2

/// The pieces of blocked attention: keys and values widened from the f16 cache once per block, then
/// dot products and weighted sums for every query row that reads the block. AVX2 when available
/// and the head size is a multiple of 8, plain Swift otherwise (the tests compare the two).
public enum AttentionBlocks {
    static func useAVX2(_ d: Int) -> Bool { CPUFeatures.useAVX2 && d % 8 == 0 }

    /// `rows` rows of d halves, `stride` halves apart, into contiguous floats.
    public static func widen(_ src: UnsafePointer<Float16>, stride: Int, rows: Int, d: Int, into dst: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let s = src + r * stride, t = dst + r * d
            if useAVX2(d) {
                s.withMemoryRebound(to: UInt16.self, capacity: d) { AVX2Attention.widen($0, t, count: d) }
            } else {
                for i in 0..<d { t[i] = Float(s[i]) }
            }
        }
    }

    /// scores[p] = scale · q · keys[p] for `count` contiguous key rows of d floats.
    public static func dots(_ q: UnsafePointer<Float>, _ keys: UnsafePointer<Float>, count: Int, d: Int, scale: Float,
                            into scores: UnsafeMutablePointer<Float>, portable: Bool = false) {
        if !portable && useAVX2(d) { return AVX2Attention.dots(q, keys, count: count, d: d, scale: scale, into: scores) }
        for p in 0..<count {
            var s: Float = 0
            for i in 0..<d { s += q[i] * keys[p * d + i] }
            scores[p] = s * scale
        }
    }

    /// out += Σ_p weights[p] · values[p] for `count` contiguous value rows of d floats.
    public static func weightedSum(_ weights: UnsafePointer<Float>, _ values: UnsafePointer<Float>, count: Int, d: Int,
                                   into out: UnsafeMutablePointer<Float>, portable: Bool = false) {
        if !portable && useAVX2(d) { return AVX2Attention.weightedSum(weights, values, count: count, d: d, into: out) }
        for p in 0..<count {
            let w = weights[p]
            for i in 0..<d { out[i] += w * values[p * d + i] }
        }
    }
}
