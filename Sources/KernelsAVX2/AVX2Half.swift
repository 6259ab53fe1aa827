import _Builtin_intrinsics.intel

/// Half-precision vector math for attention over the f16 KV cache (F16C conversions).
public enum AVX2Half {
    /// Σ a[i] · b[i] in the order of llama.cpp's half-precision dot product built for AVX-512: four
    /// 16-lane accumulators over steps of 64 (each a pair of 8-lane vectors here), added as
    /// (0 + 2) + (1 + 3), then the 16 lanes halved three times and the last four as (0 + 2) + (1 + 3);
    /// elements past the last whole step are added in double precision. With `a` holding
    /// half-precision values every product is exact, so the result equals the reference's bit for bit.
    public static func dotInSteps(_ a: UnsafePointer<Float>, _ b: UnsafePointer<UInt16>, count n: Int) -> Float {
        let whole = n / 64 * 64
        var acc = (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps())
        var i = 0
        @inline(__always) func product(_ k: Int, _ into: __m256) -> __m256 {
            _mm256_fmadd_ps(_mm256_loadu_ps(a + i + k), _mm256_cvtph_ps(load128(b + i + k)), into)
        }
        while i < whole {
            acc.0 = product(0, acc.0); acc.1 = product(8, acc.1)
            acc.2 = product(16, acc.2); acc.3 = product(24, acc.3)
            acc.4 = product(32, acc.4); acc.5 = product(40, acc.5)
            acc.6 = product(48, acc.6); acc.7 = product(56, acc.7)
            i += 64
        }
        // Accumulators 0 + 2 and 1 + 3 (as 16-lane vectors: low and high halves), then their sum.
        let low = (acc.0 + acc.4) + (acc.2 + acc.6), high = (acc.1 + acc.5) + (acc.3 + acc.7)
        var sum = Double(horizontalSum(low + high))
        while i < n {
            sum += Double(a[i] * Float(Float16(bitPattern: b[i])))
            i += 1
        }
        return Float(sum)
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
