#if canImport(Glibc)
import Glibc
#endif
import KernelsAVX2

/// The pieces of blocked attention over a tile of query rows: keys and values widened from the
/// cache once per block, then scores, an online softmax step and the weighted sum of values, with
/// the tile's rows across vector lanes (row r of a tile matrix is column r of `rows` floats per
/// line). AVX2 when available, plain Swift otherwise (the tests compare the two); `rows` is a
/// multiple of 8.
public enum AttentionBlocks {
    static func useAVX2(_ d: Int) -> Bool { CPUFeatures.useAVX2 && d % 8 == 0 }

    /// `rows` rows of d halves, `stride` halves apart, into contiguous floats.
    public static func widen(_ src: UnsafePointer<Float16>, stride: Int, rows: Int, d: Int, into dst: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let s = src + r * stride, t = dst + r * d
            if useAVX2(d) {
                s.withMemoryRebound(to: UInt16.self, capacity: d) { AVX2Attention.widen($0, t, count: d) }
            } else {
                for i in 0..<d { t[i] = Float(s[i]) }
            }
        }
    }

    /// c[x·rows + r] (+)= Σ_k a[k·rows + r] · b[x·outStride + k·reduceStride], x < outputs, k < reduce:
    /// scores (a = the queries, b = a block of keys: outStride d, reduceStride 1) and weighted sums of
    /// values (a = the weights, b = a block of values: outStride 1, reduceStride d).
    public static func tileProduct(_ a: UnsafePointer<Float>, rows: Int, _ b: UnsafePointer<Float>, outStride: Int, reduceStride: Int,
                                   outputs: Int, reduce: Int, into c: UnsafeMutablePointer<Float>, accumulate: Bool,
                                   portable: Bool = false) {
        if !portable && CPUFeatures.useAVX2 {
            return AVX2Attention.tileProduct(a, rows: rows, b, outStride: outStride, reduceStride: reduceStride,
                                             outputs: outputs, reduce: reduce, into: c, accumulate: accumulate)
        }
        for x in 0..<outputs {
            for r in 0..<rows {
                var sum: Float = accumulate ? c[x * rows + r] : 0
                for k in 0..<reduce { sum += a[k * rows + r] * b[x * outStride + k * reduceStride] }
                c[x * rows + r] = sum
            }
        }
    }

    /// One block of the online softmax: scores s[p·rows + r] (p < count) become e^(s − m') with m' row
    /// r's new running maximum; the row's sum and its output o[j·rows + r] (j < d) are first scaled
    /// by e^(m − m').
    public static func onlineSoftmax(_ s: UnsafeMutablePointer<Float>, rows: Int, count: Int, maxima: UnsafeMutablePointer<Float>,
                                     sums: UnsafeMutablePointer<Float>, output o: UnsafeMutablePointer<Float>, d: Int,
                                     portable: Bool = false) {
        if !portable && CPUFeatures.useAVX2 {
            return AVX2Attention.onlineSoftmax(s, rows: rows, count: count, maxima: maxima, sums: sums, output: o, d: d)
        }
        for r in 0..<rows {
            var m = maxima[r]
            for p in 0..<count { m = max(m, s[p * rows + r]) }
            let rescale = expf(maxima[r] - m)
            var sum = sums[r] * rescale
            for p in 0..<count {
                let e = expf(s[p * rows + r] - m)
                s[p * rows + r] = e
                sum += e
            }
            sums[r] = sum
            maxima[r] = m
            for j in 0..<d { o[j * rows + r] *= rescale }
        }
    }

    /// One block of a generated token's attention for the `group` query heads that share a KV head,
    /// straight from the half-precision cache: each key and value is read once for all the heads.
    /// Queries q[h·d + i] are already scaled; keys and values are `count` rows `stride` halves apart.
    /// The scores go to s[h·scoreStride + p] (scoreStride ≥ count), become e^(s − m')
    /// with m' head h's new running maximum, and the head's sum and output o[h·d + j] are first scaled
    /// by e^(m − m') before the block's weighted values are added.
    public static func groupBlock(_ q: UnsafePointer<Float>, group: Int, d: Int, keys: UnsafePointer<Float16>, values: UnsafePointer<Float16>,
                                  stride: Int, count: Int, scores s: UnsafeMutablePointer<Float>, scoreStride: Int,
                                  maxima: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Float>, output o: UnsafeMutablePointer<Float>,
                                  portable: Bool = false) {
        let simd = !portable && useAVX2(d)
        var h = 0
        while h < group {
            let n = min(4, group - h)
            if simd {
                keys.withMemoryRebound(to: UInt16.self, capacity: count * stride) { k in
                    values.withMemoryRebound(to: UInt16.self, capacity: count * stride) { v in
                        AVX2Attention.groupScores(q + h * d, heads: n, d: d, k, stride: stride, count: count, into: s + h * scoreStride,
                                                  scoreStride: scoreStride, prefetching: h == 0 ? v : nil)
                    }
                }
            } else {
                for k in h..<(h + n) {
                    for p in 0..<count {
                        var sum: Float = 0
                        for i in 0..<d { sum += q[k * d + i] * Float(keys[p * stride + i]) }
                        s[k * scoreStride + p] = sum
                    }
                }
            }
            h += n
        }
        for h in 0..<group {
            let row = s + h * scoreStride, out = o + h * d
            var m = maxima[h]
            for p in 0..<count { m = max(m, row[p]) }
            let rescale = expf(maxima[h] - m)
            let added = simd ? VectorOps.expShifted(row, count: count, shift: m) : VectorOps.expShiftedScalar(row, count: count, shift: m)
            sums[h] = sums[h] * rescale + added
            maxima[h] = m
            if rescale != 1 { for j in 0..<d { out[j] *= rescale } }
        }
        h = 0
        while h < group {
            let n = min(4, group - h)
            if simd {
                values.withMemoryRebound(to: UInt16.self, capacity: count * stride) {
                    AVX2Attention.groupValues(s + h * scoreStride, weightStride: scoreStride, heads: n, d: d, $0, stride: stride, count: count,
                                              into: o + h * d)
                }
            } else {
                for k in h..<(h + n) {
                    for p in 0..<count {
                        let weight = s[k * scoreStride + p]
                        for j in 0..<d { o[k * d + j] += weight * Float(values[p * stride + j]) }
                    }
                }
            }
            h += n
        }
    }
}
