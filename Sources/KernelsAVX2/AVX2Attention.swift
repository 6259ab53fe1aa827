import _Builtin_intrinsics.intel

/// Attention over a block of keys and values already converted to f32, for a tile of query rows
/// laid out across vector lanes: row r of a tile matrix is column r of `rows` floats per line, so
/// each instruction works on 8 query rows at once and no horizontal sums are needed.
public enum AVX2Attention {
    /// dst[i] = Σ src f16 → f32, n a multiple of 8.
    public static func widen(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count n: Int) {
        var i = 0
        while i < n {
            _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(load128(src + i)))
            i += 8
        }
    }

    /// c[x·rows + r] (+)= Σ_k a[k·rows + r] · b[x·outStride + k·reduceStride] for x < outputs, r < rows
    /// (a multiple of 8). Eight outputs at a time for each 8 rows: one load of `a` and eight
    /// broadcasts of `b` feed eight accumulators.
    public static func tileProduct(_ a: UnsafePointer<Float>, rows: Int, _ b: UnsafePointer<Float>, outStride: Int, reduceStride: Int,
                                   outputs: Int, reduce: Int, into c: UnsafeMutablePointer<Float>, accumulate: Bool) {
        var r = 0
        while r < rows {
            @inline(__always) func start(_ x: Int) -> __m256 { accumulate ? _mm256_loadu_ps(c + x * rows + r) : _mm256_setzero_ps() }
            var x = 0
            while x + 8 <= outputs {
                var c0 = start(x), c1 = start(x + 1), c2 = start(x + 2), c3 = start(x + 3)
                var c4 = start(x + 4), c5 = start(x + 5), c6 = start(x + 6), c7 = start(x + 7)
                var pa = a + r, pb = b + x * outStride
                for _ in 0..<reduce {
                    let v = _mm256_loadu_ps(pa)
                    c0 = _mm256_fmadd_ps(v, _mm256_broadcast_ss(pb), c0)
                    c1 = _mm256_fmadd_ps(v, _mm256_broadcast_ss(pb + outStride), c1)
                    c2 = _mm256_fmadd_ps(v, _mm256_broadcast_ss(pb + 2 * outStride), c2)
                    c3 = _mm256_fmadd_ps(v, _mm256_broadcast_ss(pb + 3 * outStride), c3)
                    c4 = _mm256_fmadd_ps(v, _mm256_broadcast_ss(pb + 4 * outStride), c4)
                    c5 = _mm256_fmadd_ps(v, _mm256_broadcast_ss(pb + 5 * outStride), c5)
                    c6 = _mm256_fmadd_ps(v, _mm256_broadcast_ss(pb + 6 * outStride), c6)
                    c7 = _mm256_fmadd_ps(v, _mm256_broadcast_ss(pb + 7 * outStride), c7)
                    pa += rows
                    pb += reduceStride
                }
                let out = c + x * rows + r
                _mm256_storeu_ps(out, c0)
                _mm256_storeu_ps(out + rows, c1)
                _mm256_storeu_ps(out + 2 * rows, c2)
                _mm256_storeu_ps(out + 3 * rows, c3)
                _mm256_storeu_ps(out + 4 * rows, c4)
                _mm256_storeu_ps(out + 5 * rows, c5)
                _mm256_storeu_ps(out + 6 * rows, c6)
                _mm256_storeu_ps(out + 7 * rows, c7)
                x += 8
            }
            while x < outputs {
                var acc = start(x)
                for k in 0..<reduce {
                    acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + k * rows + r), _mm256_broadcast_ss(b + x * outStride + k * reduceStride), acc)
                }
                _mm256_storeu_ps(c + x * rows + r, acc)
                x += 1
            }
            r += 8
        }
    }

    /// One block of the online softmax for a tile: scores s[p·rows + r] (p < count) become
    /// e^(s − m'), where m' is row r's new running maximum; the row's sum and its output o[j·rows + r]
    /// (j < d) are first scaled by e^(m − m').
    public static func onlineSoftmax(_ s: UnsafeMutablePointer<Float>, rows: Int, count: Int, maxima: UnsafeMutablePointer<Float>,
                                     sums: UnsafeMutablePointer<Float>, output o: UnsafeMutablePointer<Float>, d: Int) {
        var r = 0
        while r < rows {
            let old = _mm256_loadu_ps(maxima + r)
            var m = old
            for p in 0..<count { m = _mm256_max_ps(m, _mm256_loadu_ps(s + p * rows + r)) }
            let rescale = AVX2Exp.exp(_mm256_sub_ps(old, m))
            var sum = _mm256_mul_ps(_mm256_loadu_ps(sums + r), rescale)
            for p in 0..<count {
                let e = AVX2Exp.exp(_mm256_sub_ps(_mm256_loadu_ps(s + p * rows + r), m))
                _mm256_storeu_ps(s + p * rows + r, e)
                sum = _mm256_add_ps(sum, e)
            }
            _mm256_storeu_ps(sums + r, sum)
            _mm256_storeu_ps(maxima + r, m)
            // Skipped when no row of the eight found a new maximum.
            if _mm256_movemask_epi8(_mm256_cmpeq_epi32(_mm256_castps_si256(old), _mm256_castps_si256(m))) != -1 {
                for j in 0..<d { _mm256_storeu_ps(o + j * rows + r, _mm256_mul_ps(_mm256_loadu_ps(o + j * rows + r), rescale)) }
            }
            r += 8
        }
    }
}
