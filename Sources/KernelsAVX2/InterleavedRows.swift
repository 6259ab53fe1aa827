import _Builtin_intrinsics.intel

/// Prompt processing over eight weight rows at a time. Their slices are decoded once into a scratch
/// block in which each 32-byte vector holds four consecutive values of each of the eight rows (lane j:
/// row j), so a token's four activation bytes, broadcast, multiply all eight rows in one step and each
/// lane sums its own row: no fold across lanes per token, no decoding per token group. Each row's
/// integer sums and float terms are those `AVX2Dot.runEight` computes, in the same order, so the
/// results are the same bits; only the work differs.
public enum InterleavedRows {
    /// Bytes of one slice's record: eight vectors of the rows' values (magnitudes for signed types),
    /// eight of their signed values (signed types), the multipliers of the two halves (types with
    /// scales: lane j holds row j's twice), then the rows' factors and minimums.
    @inlinable @inline(__always) static func recordBytes<D: SliceDecoder>(_: D.Type) -> Int {
        256 + (D.isSigned ? 256 : 0) + (D.hasScales ? 64 : 0) + 32 + (D.hasMin ? 32 : 0)
    }
    @inlinable @inline(__always) static func mulOffset<D: SliceDecoder>(_: D.Type) -> Int { D.isSigned ? 512 : 256 }
    @inlinable @inline(__always) static func factorOffset<D: SliceDecoder>(_: D.Type) -> Int { mulOffset(D.self) + (D.hasScales ? 64 : 0) }

    /// Scratch bytes for eight rows of `slices` slices.
    @inlinable @inline(__always) public static func groupBytes<D: SliceDecoder>(_: D.Type, slices: Int) -> Int {
        slices * recordBytes(D.self)
    }

    /// Decodes eight rows (`rowBytes` apart from `rows`) of `slices` slices into `scratch`.
    @inlinable @inline(__always)
    static func decode<D: SliceDecoder>(_: D.Type, _ rows: UnsafeRawPointer, rowBytes: Int, slices: Int, into scratch: UnsafeMutableRawPointer) {
        let record = recordBytes(D.self), mul = mulOffset(D.self), factor = factorOffset(D.self)
        for index in 0..<slices {
            let block = index / D.slicesPerBlock, s = index % D.slicesPerBlock
            let rec = scratch + index * record
            for j in 0..<8 {
                let slice = D.decode(rows + j * rowBytes + block * D.blockBytes, slice: s)
                scatter(D.isSigned ? _mm256_sign_epi8(slice.q, slice.q) : slice.q, rec, row: j)
                if D.isSigned { scatter(slice.q, rec + 256, row: j) }
                if D.hasScales {
                    // The slice's 16-bit multipliers: lane 0 for values 0-15, lane 8 for 16-31.
                    let m = unsafeBitCast(slice.mul, to: SIMD16<UInt16>.self)
                    rec.storeBytes(of: UInt32(m[0]) &* 0x10001, toByteOffset: mul + 4 * j, as: UInt32.self)
                    rec.storeBytes(of: UInt32(m[8]) &* 0x10001, toByteOffset: mul + 32 + 4 * j, as: UInt32.self)
                }
                rec.storeBytes(of: slice.factor, toByteOffset: factor + 4 * j, as: Float.self)
                if D.hasMin { rec.storeBytes(of: slice.min, toByteOffset: factor + 32 + 4 * j, as: Float.self) }
            }
        }
    }

    /// Values 4k…4k+3 of one row's slice into lane `row` of vector k.
    @inlinable @inline(__always)
    static func scatter(_ v: __m256i, _ rec: UnsafeMutableRawPointer, row: Int) {
        let words = unsafeBitCast(v, to: SIMD8<UInt32>.self)
        for k in 0..<8 { rec.storeBytes(of: words[k], toByteOffset: 32 * k + 4 * row, as: UInt32.self) }
    }

    /// Four tokens (from `t`; `group` is the first token of their group of eight, which decides as
    /// `runEight` does whether a K-quant block's scales are shared) against eight decoded rows:
    /// out[(t + k) · outStride + j] for row j.
    @inlinable @inline(__always)
    static func runFour<P: SliceProduct, D: SliceDecoder>(_: P.Type, _: D.Type, _ scratch: UnsafeRawPointer, slices: Int,
                                                          _ x: UnsafePointer<Int8>, _ sxByBlock: UnsafePointer<Float>,
                                                          _ sumsByBlock: UnsafePointer<Float>, tokens: Int, group: Int, _ t: Int,
                                                          _ out: UnsafeMutablePointer<Float>, _ outStride: Int) {
        let record = recordBytes(D.self), mulAt = mulOffset(D.self), factorAt = factorOffset(D.self)
        let blocks = slices / D.slicesPerBlock
        let x0 = UnsafeRawPointer(x + 32 * t * slices), xStride = 32 * slices
        var acc = (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps())
        @inline(__always) func scaled(_ factors: __m256, _ sx: UnsafePointer<Float>, _ k: Int, _ sum: __m256i, _ a: __m256) -> __m256 {
            _mm256_fmadd_ps(_mm256_mul_ps(factors, _mm256_set1_ps(sx[t + k])), _mm256_cvtepi32_ps(sum), a)
        }
        @inline(__always) func minimum(_ mins: __m256, _ sums: UnsafePointer<Float>, _ k: Int, _ a: __m256) -> __m256 {
            _mm256_fmadd_ps(mins, _mm256_set1_ps(sums[t + k]), a)
        }
        for b in 0..<blocks {
            let first = b * D.slicesPerBlock
            let shared = D.hasScales && AVX2Dot.sharesScale(sxByBlock + first * tokens + group, slices: D.slicesPerBlock, tokens: tokens)
            var p = (_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256())
            for s in 0..<D.slicesPerBlock {
                let index = first + s
                let rec = scratch + index * record
                for half in 0..<2 {
                    // Values 0-15 and 16-31 of the slice: four vectors each, with their own multipliers.
                    let mul = D.hasScales ? load256(rec + mulAt + 32 * half) : ones16
                    let rows = rec + 128 * half, at = 32 * index + 16 * half
                    p.0 = _mm256_add_epi32(p.0, P.rowPartials(D.self, rows, x0 + at, mul))
                    p.1 = _mm256_add_epi32(p.1, P.rowPartials(D.self, rows, x0 + xStride + at, mul))
                    p.2 = _mm256_add_epi32(p.2, P.rowPartials(D.self, rows, x0 + 2 * xStride + at, mul))
                    p.3 = _mm256_add_epi32(p.3, P.rowPartials(D.self, rows, x0 + 3 * xStride + at, mul))
                }
                let sums = sumsByBlock + index * tokens
                let mins = D.hasMin ? _mm256_loadu_ps((rec + factorAt + 32).assumingMemoryBound(to: Float.self)) : _mm256_setzero_ps()
                if shared {
                    // A K-quant block's partials add up over its slices; the minimum terms go first, as in runEight.
                    if D.hasMin {
                        acc = (minimum(mins, sums, 0, acc.0), minimum(mins, sums, 1, acc.1), minimum(mins, sums, 2, acc.2), minimum(mins, sums, 3, acc.3))
                    }
                    continue
                }
                let factors = _mm256_loadu_ps((rec + factorAt).assumingMemoryBound(to: Float.self))
                let sx = sxByBlock + index * tokens
                acc = (scaled(factors, sx, 0, p.0, acc.0), scaled(factors, sx, 1, p.1, acc.1), scaled(factors, sx, 2, p.2, acc.2), scaled(factors, sx, 3, p.3, acc.3))
                if D.hasMin {
                    acc = (minimum(mins, sums, 0, acc.0), minimum(mins, sums, 1, acc.1), minimum(mins, sums, 2, acc.2), minimum(mins, sums, 3, acc.3))
                }
                p = (_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256())
            }
            if shared {
                let rec = scratch + (first + D.slicesPerBlock - 1) * record
                let factors = _mm256_loadu_ps((rec + factorAt).assumingMemoryBound(to: Float.self))
                let sx = sxByBlock + first * tokens
                acc = (scaled(factors, sx, 0, p.0, acc.0), scaled(factors, sx, 1, p.1, acc.1), scaled(factors, sx, 2, p.2, acc.2), scaled(factors, sx, 3, p.3, acc.3))
            }
        }
        _mm256_storeu_ps(out + t * outStride, acc.0)
        _mm256_storeu_ps(out + (t + 1) * outStride, acc.1)
        _mm256_storeu_ps(out + (t + 2) * outStride, acc.2)
        _mm256_storeu_ps(out + (t + 3) * outStride, acc.3)
    }
}
