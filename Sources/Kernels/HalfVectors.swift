import KernelsAVX2

/// Attention's vector math over half-precision keys and values: AVX2/F16C where available
/// (and the length is a multiple of 8), plain Swift otherwise.
public enum HalfVectors {
    static let useAVX2 = CPUFeatures.useAVX2

    /// Σ a[i] · b[i] summed in llama.cpp's order (see `AVX2Half.dotInSteps`); the portable path
    /// follows the same order lane by lane, so both give the same float.
    public static func dotInSteps(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float16>, count n: Int, portable: Bool = false) -> Float {
        if useAVX2 && !portable {
            return b.withMemoryRebound(to: UInt16.self, capacity: n) { AVX2Half.dotInSteps(a, $0, count: n) }
        }
        let whole = n / 64 * 64
        var lanes: (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) = (.zero, .zero, .zero, .zero)
        @inline(__always) func accumulate(_ acc: inout SIMD16<Float>, _ from: Int) {
            for k in 0..<16 { acc[k] = acc[k].addingProduct(a[from + k], Float(b[from + k])) }
        }
        var i = 0
        while i < whole {
            accumulate(&lanes.0, i); accumulate(&lanes.1, i + 16); accumulate(&lanes.2, i + 32); accumulate(&lanes.3, i + 48)
            i += 64
        }
        let sixteen = (lanes.0 + lanes.2) + (lanes.1 + lanes.3)
        let eight = sixteen.lowHalf + sixteen.highHalf
        let four = eight.lowHalf + eight.highHalf
        var sum = Double((four[0] + four[2]) + (four[1] + four[3]))
        while i < n {
            sum += Double(a[i] * Float(b[i]))
            i += 1
        }
        return Float(sum)
    }

    /// y[i] = f16(y[i] + w · x[i]): a half-precision accumulator held in floats (the fused product
    /// rounded once to float, then to half precision).
    public static func addScaledHalf(_ y: UnsafeMutablePointer<Float>, _ w: Float, _ x: UnsafePointer<Float16>, count n: Int) {
        if useAVX2 && n % 8 == 0 {
            x.withMemoryRebound(to: UInt16.self, capacity: n) { AVX2Half.addScaledHalf(y, w, $0, count: n) }
            return
        }
        for i in 0..<n { y[i] = Float(Float16(y[i].addingProduct(Float(x[i]), w))) }
    }

    /// y[i] = f16(y[i] · s).
    public static func scaleHalf(_ y: UnsafeMutablePointer<Float>, _ s: Float, count n: Int) {
        if useAVX2 && n % 8 == 0 { return AVX2Half.scaleHalf(y, s, count: n) }
        for i in 0..<n { y[i] = Float(Float16(y[i] * s)) }
    }
}
