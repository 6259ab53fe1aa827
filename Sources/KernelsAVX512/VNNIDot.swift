import KernelsAVX2
import _Builtin_intrinsics.intel

// AVX-512 VNNI (on 256-bit vectors, AVX512VL): `vpdpbusd` multiplies unsigned by signed bytes and adds
// groups of four into int32 in one instruction, without the int16 saturation of `maddubs`. The
// decoders and drivers are AVX2Dot's, inlined here and so compiled with this target's features.

enum VNNIProduct: SliceProduct {
    @inline(__always)
    static func partials<D: SliceDecoder>(_: D.Type, _ slice: Slice, _ x: UnsafePointer<Int8>) -> __m256i {
        let xv = load256(x)
        let zero = _mm256_setzero_si256()
        // The unmasked form is a C macro Swift cannot import; an all-ones mask compiles to plain `vpdpbusd`.
        var p = D.isSigned
            ? _mm256_mask_dpbusd_epi32(zero, 0xFF, _mm256_sign_epi8(slice.q, slice.q), _mm256_sign_epi8(xv, slice.q))
            : _mm256_mask_dpbusd_epi32(zero, 0xFF, slice.q, xv)
        if D.hasScales {
            // Each 32-bit lane of `mul` holds its 16-bit scale twice; lanes 0-3 cover the first 16 values.
            p = _mm256_mullo_epi32(p, _mm256_srai_epi32(slice.mul, 16))
        }
        return p
    }

    @inline(__always)
    static func rowPartials<D: SliceDecoder>(_: D.Type, _ rows: UnsafeRawPointer, _ x: UnsafeRawPointer, _ mul: __m256i) -> __m256i {
        var p = _mm256_setzero_si256()
        for i in 0..<4 {
            let xs = _mm256_set1_epi32(x.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
            let w = load256(rows + 32 * i)
            p = _mm256_mask_dpbusd_epi32(p, 0xFF, w, D.isSigned ? _mm256_sign_epi8(xs, load256(rows + 256 + 32 * i)) : xs)
        }
        // Lane j of `mul` holds row j's 16-bit multiplier twice.
        return D.hasScales ? _mm256_mullo_epi32(p, _mm256_srai_epi32(mul, 16)) : p
    }
}

public enum VNNIDot {
    public static func multiply(typeID: UInt32, data: UnsafeRawPointer, rowBytes: Int, rows: Range<Int>,
                                scales: UnsafePointer<Float>, values: UnsafePointer<Int8>, blockSums: UnsafePointer<Float>,
                                scalesByBlock: UnsafePointer<Float>, sumsByBlock: UnsafePointer<Float>,
                                count: Int, tokens: Int, tiled: Int, out: UnsafeMutablePointer<Float>, outStride: Int) {
        // AVX2Dot's type dispatch and loops, inlined here and so specialised and compiled with this target's features.
        AVX2Dot.multiply(VNNIProduct.self, typeID: typeID, data: data, rowBytes: rowBytes, rows: rows, scales: scales, values: values,
                         blockSums: blockSums, scalesByBlock: scalesByBlock, sumsByBlock: sumsByBlock, count: count,
                         tokens: tokens, tiled: tiled, out: out, outStride: outStride)
    }
}
