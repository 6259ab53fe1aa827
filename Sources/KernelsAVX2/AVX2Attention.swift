import _Builtin_intrinsics.intel
import CachePrefetch

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

    /// Two sums per head for up to four heads, `a.(2h)` and `a.(2h + 1)`.
    typealias HeadPairs = (__m256, __m256, __m256, __m256, __m256, __m256, __m256, __m256)

    /// For each of the first `n` (1–4) heads h: a.(2h) += f(h) · x0 and a.(2h + 1) += f(h) · x1.
    @inline(__always)
    static func multiplyAdd(_ a: inout HeadPairs, heads n: Int, _ x0: __m256, _ x1: __m256, _ f: (Int) -> __m256) {
        let f0 = f(0)
        a.0 = _mm256_fmadd_ps(f0, x0, a.0)
        a.1 = _mm256_fmadd_ps(f0, x1, a.1)
        if n > 1 {
            let f1 = f(1)
            a.2 = _mm256_fmadd_ps(f1, x0, a.2)
            a.3 = _mm256_fmadd_ps(f1, x1, a.3)
        }
        if n > 2 {
            let f2 = f(2)
            a.4 = _mm256_fmadd_ps(f2, x0, a.4)
            a.5 = _mm256_fmadd_ps(f2, x1, a.5)
        }
        if n > 3 {
            let f3 = f(3)
            a.6 = _mm256_fmadd_ps(f3, x0, a.6)
            a.7 = _mm256_fmadd_ps(f3, x1, a.7)
        }
    }

    /// s[h·scoreStride + p] = q_h · k_p for `heads` (1–4) query heads of d floats (q[h·d + i]) and
    /// `count` half-precision keys `stride` halves apart: each key is widened once in registers for
    /// all the heads, two keys at a time so eight independent sums are in flight. d a multiple of 8.
    /// The cache's rows are strided (other KV heads between them) and paged, which the hardware
    /// prefetcher follows poorly, so the keys of later positions and the values of these (when
    /// given: they are read right after the scores) are prefetched as it goes.
    public static func groupScores(_ q: UnsafePointer<Float>, heads n: Int, d: Int, _ keys: UnsafePointer<UInt16>, stride: Int,
                                   count: Int, into s: UnsafeMutablePointer<Float>, scoreStride: Int, prefetching values: UnsafePointer<UInt16>?) {
        // About one memory latency's worth of positions.
        let ahead = 16
        var p = 0
        while p < count {
            let two = p + 1 < count
            let k0 = keys + p * stride, k1 = two ? k0 + stride : k0
            var line = 0
            while line < d {
                if p + ahead < count { cache_prefetch(k0 + ahead * stride + line) }
                if p + ahead + 1 < count { cache_prefetch(k0 + (ahead + 1) * stride + line) }
                if let values {
                    cache_prefetch(values + p * stride + line)
                    if two { cache_prefetch(values + (p + 1) * stride + line) }
                }
                line += 32
            }
            var a: HeadPairs = (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                                _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps())
            var i = 0
            while i < d {
                let x0 = _mm256_cvtph_ps(load128(k0 + i)), x1 = _mm256_cvtph_ps(load128(k1 + i))
                multiplyAdd(&a, heads: n, x0, x1) { _mm256_loadu_ps(q + $0 * d + i) }
                i += 8
            }
            @inline(__always) func put(_ h: Int, _ first: __m256, _ second: __m256) {
                s[h * scoreStride + p] = horizontalSum(first)
                if two { s[h * scoreStride + p + 1] = horizontalSum(second) }
            }
            put(0, a.0, a.1)
            if n > 1 { put(1, a.2, a.3) }
            if n > 2 { put(2, a.4, a.5) }
            if n > 3 { put(3, a.6, a.7) }
            p += 2
        }
    }

    /// o[h·d + j] += Σ_p w[h·weightStride + p] · v_p[j] for `heads` (1–4) heads over `count`
    /// half-precision value rows `stride` halves apart: sixteen columns of every head at a time, so
    /// each value is widened once and eight independent sums are in flight. d a multiple of 8.
    public static func groupValues(_ w: UnsafePointer<Float>, weightStride: Int, heads n: Int, d: Int, _ values: UnsafePointer<UInt16>,
                                   stride: Int, count: Int, into o: UnsafeMutablePointer<Float>) {
        var j = 0
        while j < d {
            let two = j + 8 < d
            @inline(__always) func start(_ h: Int, _ k: Int) -> __m256 { h < n && (k == 0 || two) ? _mm256_loadu_ps(o + h * d + j + 8 * k) : _mm256_setzero_ps() }
            var a: HeadPairs = (start(0, 0), start(0, 1), start(1, 0), start(1, 1), start(2, 0), start(2, 1), start(3, 0), start(3, 1))
            for p in 0..<count {
                let v = values + p * stride + j
                let x0 = _mm256_cvtph_ps(load128(v)), x1 = two ? _mm256_cvtph_ps(load128(v + 8)) : x0
                multiplyAdd(&a, heads: n, x0, x1) { _mm256_broadcast_ss(w + $0 * weightStride + p) }
            }
            @inline(__always) func put(_ h: Int, _ first: __m256, _ second: __m256) {
                _mm256_storeu_ps(o + h * d + j, first)
                if two { _mm256_storeu_ps(o + h * d + j + 8, second) }
            }
            put(0, a.0, a.1)
            if n > 1 { put(1, a.2, a.3) }
            if n > 2 { put(2, a.4, a.5) }
            if n > 3 { put(3, a.6, a.7) }
            j += 16
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
