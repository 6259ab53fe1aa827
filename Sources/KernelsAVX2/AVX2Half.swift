import _Builtin_intrinsics.intel

/// Half-precision vector math for attention over the f16 KV cache (F16C conversions).
public enum AVX2Half {
    /// Σ a[i] · b[i] with `b` in half precision; n a multiple of 8.
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<UInt16>, count n: Int) -> Float {
        var acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps()
        var i = 0
        while i + 16 <= n {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_cvtph_ps(load128(b + i)), acc0)
            acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_cvtph_ps(load128(b + i + 8)), acc1)
            i += 16
        }
        if i < n { acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_cvtph_ps(load128(b + i)), acc0) }
        return horizontalSum(_mm256_add_ps(acc0, acc1))
    }

    /// y[i] = f16(y[i] + w · x[i]) with one rounding of the fused product to float, then to half
    /// precision: a half-precision accumulator kept in floats; n a multiple of 8.
    public static func addScaledHalf(_ y: UnsafeMutablePointer<Float>, _ w: Float, _ x: UnsafePointer<UInt16>, count n: Int) {
        let wv = _mm256_set1_ps(w)
        var i = 0
        while i < n {
            let sum = _mm256_fmadd_ps(_mm256_cvtph_ps(load128(x + i)), wv, _mm256_loadu_ps(y + i))
            _mm256_storeu_ps(y + i, roundedToHalf(sum))
            i += 8
        }
    }

    /// y[i] = f16(y[i] · s); n a multiple of 8.
    public static func scaleHalf(_ y: UnsafeMutablePointer<Float>, _ s: Float, count n: Int) {
        let sv = _mm256_set1_ps(s)
        var i = 0
        while i < n {
            _mm256_storeu_ps(y + i, roundedToHalf(_mm256_mul_ps(_mm256_loadu_ps(y + i), sv)))
            i += 8
        }
    }

    /// Rounds to the nearest half-precision value, ties to even (vcvtps2ph under the default rounding mode).
    @inline(__always) static func roundedToHalf(_ v: __m256) -> __m256 {
        SIMD8<Float>(SIMD8<Float16>(v))
    }
}
