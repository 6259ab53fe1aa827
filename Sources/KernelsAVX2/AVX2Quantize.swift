import _Builtin_intrinsics.intel

/// Quantizes floats into int8 blocks of 32 (scale = max|x| / 127, round to nearest), with the sums
/// of each half and the scaled block sum, eight lanes at a time.
public enum AVX2Quantize {
    public static func blocks(_ x: UnsafePointer<Float>, count: Int, scales: UnsafeMutablePointer<Float>,
                              values: UnsafeMutablePointer<Int8>, halfSums: UnsafeMutablePointer<Int16>,
                              blockSums: UnsafeMutablePointer<Float>) {
        let absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFF_FFFF))
        let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)
        let onesU8 = _mm256_set1_epi8(1)
        let ones16 = _mm256_set1_epi16(1)
        for b in 0..<(count / 32) {
            let src = x + 32 * b
            let v0 = _mm256_loadu_ps(src), v1 = _mm256_loadu_ps(src + 8), v2 = _mm256_loadu_ps(src + 16), v3 = _mm256_loadu_ps(src + 24)
            let m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v0, absMask), _mm256_and_ps(v1, absMask)),
                                  _mm256_max_ps(_mm256_and_ps(v2, absMask), _mm256_and_ps(v3, absMask)))
            let amax = unsafeBitCast(m, to: SIMD8<Float>.self).max()
            let d = amax / 127
            let inverse = _mm256_set1_ps(d == 0 ? 0 : 1 / d)
            let q0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, inverse)), q1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, inverse))
            let q2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, inverse)), q3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, inverse))
            let packed = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3)), order)
            _mm256_storeu_si256(UnsafeMutableRawPointer(values + 32 * b).assumingMemoryBound(to: __m256i.self), packed)
            // Four-byte sums: lanes 0-3 cover the first half, 4-7 the second.
            let sums = unsafeBitCast(_mm256_madd_epi16(_mm256_maddubs_epi16(onesU8, packed), ones16), to: SIMD8<Int32>.self)
            let s0 = sums[0] &+ sums[1] &+ sums[2] &+ sums[3], s1 = sums[4] &+ sums[5] &+ sums[6] &+ sums[7]
            scales[b] = d
            halfSums[2 * b] = Int16(s0)
            halfSums[2 * b + 1] = Int16(s1)
            blockSums[b] = d * Float(s0 &+ s1)
        }
    }
}
