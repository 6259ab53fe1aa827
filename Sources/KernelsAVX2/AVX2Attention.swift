import _Builtin_intrinsics.intel

/// Attention over a block of keys and values already converted to f32, for many query rows: the
/// conversion is paid once per block and shared by every query that reads it.
public enum AVX2Attention {
    /// dst[i] = Σ src f16 → f32, n a multiple of 8.
    public static func widen(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count n: Int) {
        var i = 0
        while i < n {
            _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(load128(src + i)))
            i += 8
        }
    }

    /// scores[p] = scale · q · keys[p] for p in 0..<count (key rows of d floats, d a multiple of 8):
    /// four keys at a time, sharing each load of q, reduced together.
    public static func dots(_ q: UnsafePointer<Float>, _ keys: UnsafePointer<Float>, count: Int, d: Int, scale: Float,
                            into scores: UnsafeMutablePointer<Float>) {
        var p = 0
        while p + 4 <= count {
            let k = keys + p * d
            var a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps()
            var i = 0
            while i < d {
                let qv = _mm256_loadu_ps(q + i)
                a0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + i), a0)
                a1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + d + i), a1)
                a2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + 2 * d + i), a2)
                a3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + 3 * d + i), a3)
                i += 8
            }
            // Lane sums of the four accumulators, side by side.
            let h = unsafeBitCast(_mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3)), to: SIMD8<Float>.self)
            let sums = (h.lowHalf + h.highHalf) * scale
            for j in 0..<4 { scores[p + j] = sums[j] }
            p += 4
        }
        while p < count {
            var a = _mm256_setzero_ps()
            var i = 0
            while i < d {
                a = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(keys + p * d + i), a)
                i += 8
            }
            scores[p] = horizontalSum(a) * scale
            p += 1
        }
    }

    /// out += Σ_p weights[p] · values[p] (value rows of d floats, d a multiple of 8), 32 columns of
    /// `out` at a time held in registers across all positions.
    public static func weightedSum(_ weights: UnsafePointer<Float>, _ values: UnsafePointer<Float>, count: Int, d: Int,
                                   into out: UnsafeMutablePointer<Float>) {
        var i = 0
        while i + 32 <= d {
            var o0 = _mm256_loadu_ps(out + i), o1 = _mm256_loadu_ps(out + i + 8)
            var o2 = _mm256_loadu_ps(out + i + 16), o3 = _mm256_loadu_ps(out + i + 24)
            for p in 0..<count {
                let w = _mm256_set1_ps(weights[p])
                let v = values + p * d + i
                o0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(v), o0)
                o1 = _mm256_fmadd_ps(w, _mm256_loadu_ps(v + 8), o1)
                o2 = _mm256_fmadd_ps(w, _mm256_loadu_ps(v + 16), o2)
                o3 = _mm256_fmadd_ps(w, _mm256_loadu_ps(v + 24), o3)
            }
            _mm256_storeu_ps(out + i, o0)
            _mm256_storeu_ps(out + i + 8, o1)
            _mm256_storeu_ps(out + i + 16, o2)
            _mm256_storeu_ps(out + i + 24, o3)
            i += 32
        }
        while i < d {
            var o = _mm256_loadu_ps(out + i)
            for p in 0..<count { o = _mm256_fmadd_ps(_mm256_set1_ps(weights[p]), _mm256_loadu_ps(values + p * d + i), o) }
            _mm256_storeu_ps(out + i, o)
            i += 8
        }
    }
}
