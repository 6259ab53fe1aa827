import KernelsAVX2

/// Attention's vector math over half-precision keys and values: AVX2/F16C where available
/// (and the length is a multiple of 8), plain Swift otherwise.
public enum HalfVectors {
    static let useAVX2 = CPUFeatures.useAVX2

    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float16>, count n: Int) -> Float {
        if useAVX2 && n % 8 == 0 {
            return b.withMemoryRebound(to: UInt16.self, capacity: n) { AVX2Half.dot(a, $0, count: n) }
        }
        var s: Float = 0
        for i in 0..<n { s += a[i] * Float(b[i]) }
        return s
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
