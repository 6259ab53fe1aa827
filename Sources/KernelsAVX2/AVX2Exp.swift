import _Builtin_intrinsics.intel

/// The exponential over float vectors, for softmax: e^v = 2^k · e^r with k = round(v · log2 e) and
/// |r| ≤ ln 2 / 2, e^r from its Taylor series to r⁶ (relative error below 2e-7), 2^k built in the
/// exponent bits. Inputs are clamped to [-87, 88] so 2^k stays a normal float.
public enum AVX2Exp {
    /// x[i] = e^(x[i] - shift) for i in 0..<n; returns the sum of the results.
    public static func expShifted(_ x: UnsafeMutablePointer<Float>, count n: Int, shift: Float) -> Float {
        let s = _mm256_set1_ps(shift)
        var sum = _mm256_setzero_ps()
        var i = 0
        while i + 8 <= n {
            let e = exp(_mm256_sub_ps(_mm256_loadu_ps(x + i), s))
            _mm256_storeu_ps(x + i, e)
            sum = _mm256_add_ps(sum, e)
            i += 8
        }
        if i < n {
            // The last lanes through a mask: no reads or writes past the end.
            let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(Int32(n - i)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
            let e = _mm256_and_ps(exp(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask), s)), _mm256_castsi256_ps(mask))
            _mm256_maskstore_ps(x + i, mask, e)
            sum = _mm256_add_ps(sum, e)
        }
        return horizontalSum(sum)
    }

    @inline(__always) static func exp(_ v: __m256) -> __m256 {
        let x = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-87)), _mm256_set1_ps(88))
        let kInt = _mm256_cvtps_epi32(_mm256_mul_ps(x, _mm256_set1_ps(1.442_695_040_888_963_4)))  // rounds to nearest
        let k = _mm256_cvtepi32_ps(kInt)
        // r = x - k·ln2, with ln2 split in two so the product is exact.
        var r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693_145_751_953_125), x)
        r = _mm256_fnmadd_ps(k, _mm256_set1_ps(1.428_606_765_330_187_045e-6), r)
        var p = _mm256_set1_ps(1.0 / 720)
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0 / 120))
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0 / 24))
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0 / 6))
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5))
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1))
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1))
        let twoK = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(kInt, _mm256_set1_epi32(127)), 23))
        return _mm256_mul_ps(p, twoK)
    }
}
