import _Builtin_intrinsics.intel

/// Quantizes floats into int8 blocks of 32 (x · 127 / max|x|, rounded half to even), with the sums
/// of each half and the scaled block sum, eight lanes at a time.
public enum AVX2Quantize {
    /// `scaleGroup` consecutive blocks share one scale (max|x| over the group / 127); `halfScale`
    /// rounds the stored scale to half precision and `halfSum` the scaled block sum, as the
    /// activation formats of the weight types store them.
    public static func blocks(_ x: UnsafePointer<Float>, count: Int, scales: UnsafeMutablePointer<Float>,
                              values: UnsafeMutablePointer<Int8>, halfSums: UnsafeMutablePointer<Int16>,
                              blockSums: UnsafeMutablePointer<Float>, scaleGroup: Int, halfScale: Bool, halfSum: Bool) {
        let absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFF_FFFF))
        let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)
        let onesU8 = _mm256_set1_epi8(1)
        let ones16 = _mm256_set1_epi16(1)
        var group = 0
        while group < count / 32 {
            var m = _mm256_setzero_ps()
            for b in group..<(group + scaleGroup) {
                let src = x + 32 * b
                m = _mm256_max_ps(m, _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(src), absMask), _mm256_and_ps(_mm256_loadu_ps(src + 8), absMask)),
                                                   _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(src + 16), absMask), _mm256_and_ps(_mm256_loadu_ps(src + 24), absMask))))
            }
            let amax = m.max()
            let (d, multiplier) = QuantizationScale.of(maximum: amax, wholeScale: !halfScale)
            let stored = halfScale ? Float(Float16(d)) : d
            let inverse = _mm256_set1_ps(multiplier)
            for b in group..<(group + scaleGroup) {
                let src = x + 32 * b
                let q0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(src), inverse))
                let q1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(src + 8), inverse))
                let q2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(src + 16), inverse))
                let q3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(src + 24), inverse))
                let packed = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3)), order)
                _mm256_storeu_si256(UnsafeMutableRawPointer(values + 32 * b).assumingMemoryBound(to: __m256i.self), packed)
                // Four-byte sums: lanes 0-3 cover the first half, 4-7 the second.
                let sums = unsafeBitCast(_mm256_madd_epi16(_mm256_maddubs_epi16(onesU8, packed), ones16), to: SIMD8<Int32>.self)
                let s0 = sums[0] &+ sums[1] &+ sums[2] &+ sums[3], s1 = sums[4] &+ sums[5] &+ sums[6] &+ sums[7]
                scales[b] = stored
                halfSums[2 * b] = Int16(s0)
                halfSums[2 * b + 1] = Int16(s1)
                blockSums[b] = halfSum ? Float(Float16(d * Float(s0 &+ s1))) : stored * Float(s0 &+ s1)
            }
            group += scaleGroup
        }
    }
}
