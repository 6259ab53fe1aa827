import _Builtin_intrinsics.intel

// AVX2 integer dot products of quantized weight rows with int8 activation blocks (32 values each,
// with a float scale and the scaled sum of the block). This target is compiled with
// -mavx2 -mfma -mf16c and only called after the CPU was checked for those features.
//
// Every weight type is read as 32-value slices: unsigned bytes `q`, 16-bit multipliers for the two
// halves, a float factor, and coefficients for the activation half-sums that carry offsets and
// minimums (w = factor·mul·q + min). One weight slice is decoded once and used for every token of
// the batch, so prompt processing is a matrix × matrix product, not repeated matrix × vector.

@inlinable @inline(__always) public func f16(_ p: UnsafeRawPointer, _ offset: Int = 0) -> Float {
    _cvtsh_ss(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
}

@inlinable @inline(__always) public func load256(_ p: UnsafeRawPointer) -> __m256i {
    _mm256_loadu_si256(p.assumingMemoryBound(to: __m256i.self))
}

@inlinable @inline(__always) public func load128(_ p: UnsafeRawPointer) -> __m128i {
    _mm_loadu_si128(p.assumingMemoryBound(to: __m128i.self))
}

/// The sum of eight lanes in llama.cpp's order (halves, then pairs two apart, then the last two),
/// so a dot product accumulated lane by lane as llama.cpp accumulates it rounds the same way.
@inlinable @inline(__always) public func horizontalSum(_ v: __m256) -> Float {
    let h = v.lowHalf + v.highHalf
    return (h[0] + h[2]) + (h[1] + h[3])
}

/// One decoded 32-value weight slice: w[i] = factor · mul[i / 16] · q[i] + min (offsets of signed
/// types are already subtracted from q).
public struct Slice {
    public var q: __m256i
    public var mul: __m256i
    public var factor: Float
    public var min: Float

    @inlinable @inline(__always)
    public init(q: __m256i, mul: __m256i, factor: Float, min: Float) {
        self.q = q
        self.mul = mul
        self.factor = factor
        self.min = min
    }
}

public protocol SliceDecoder {
    /// Bytes per block and slices (of 32 values) per block.
    static var blockBytes: Int { get }
    static var slicesPerBlock: Int { get }
    /// Signed weights (offset types) multiply as |q| × (x with q's sign), since `maddubs` needs an unsigned operand.
    static var isSigned: Bool { get }
    /// Whether `min` can be non-zero (types with a per-block minimum); the others skip that work.
    static var hasMin: Bool { get }
    /// Whether `mul` holds scales (not all ones).
    static var hasScales: Bool { get }
    /// The largest |q| of a decoded slice: whether sums of `maddubs` products fit 16 bits.
    static var largestMagnitude: Int { get }
    static func decode(_ block: UnsafeRawPointer, slice: Int) -> Slice
}

// Constants are written inline: a global `let` would cost a lazy-initialisation check per use.
@inlinable @inline(__always) var ones16: __m256i { _mm256_set1_epi16(1) }
@inlinable @inline(__always) var lowNibbles: __m256i { _mm256_set1_epi8(0x0F) }
/// IQ4_NL's and IQ4_XS's 16 values (`nonLinear4` in `Kernels`, which this target cannot see; the
/// kernel tests hold the two to the same results) in both lanes, for a byte shuffle.
@inlinable @inline(__always) var nonLinearTable: __m256i {
    _mm256_broadcastsi128_si256(_mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113))
}

/// MXFP4's 16 values: FP4 (E2M1) numbers doubled, as llama.cpp tabulates them (`fp4Values` in
/// `Kernels`; the kernel tests hold the two to the same results), in both lanes.
@inlinable @inline(__always) var fp4Table: __m256i {
    _mm256_broadcastsi128_si256(_mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12))
}

/// An E8M0 block scale (2^(e − 127)) halved, since the table holds doubled values.
@inlinable @inline(__always) public func e8m0Half(_ e: UInt8) -> Float {
    Float(sign: .plus, exponent: Int(e) - 128, significand: 1)
}

/// 16 packed bytes → 32 nibbles: low nibbles first (values 0..15), then high nibbles (16..31).
@inlinable @inline(__always) func nibbles(_ p: UnsafeRawPointer) -> __m256i {
    let v = load128(p)
    let mask = _mm_set1_epi8(0x0F)
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), mask), _mm_and_si128(v, mask))
}

/// Byte j = 0x10 where bit j of `bits` is set, else 0.
@inlinable @inline(__always) func highBits(_ bits: UInt32) -> __m256i {
    let v = _mm256_set1_epi32(Int32(bitPattern: bits))
    let spread = _mm256_shuffle_epi8(v, _mm256_setr_epi64x(0, 0x0101_0101_0101_0101, 0x0202_0202_0202_0202, 0x0303_0303_0303_0303))
    let select = _mm256_set1_epi64x(Int64(bitPattern: 0x8040_2010_0804_0201))
    let isSet = _mm256_cmpeq_epi8(_mm256_and_si256(spread, select), select)
    return _mm256_and_si256(isSet, _mm256_set1_epi8(0x10))
}

@inlinable @inline(__always) func scaleMinK4(_ j: Int, _ q: UnsafeRawPointer) -> (Int32, Int32) {
    let b = { (i: Int) in q.load(fromByteOffset: i, as: UInt8.self) }
    if j < 4 { return (Int32(b(j) & 63), Int32(b(j + 4) & 63)) }
    return (Int32((b(j + 4) & 0xF) | ((b(j - 4) >> 6) << 4)), Int32((b(j + 4) >> 4) | ((b(j) >> 6) << 4)))
}

extension SliceDecoder {
    @inlinable public static var isSigned: Bool { false }
    @inlinable public static var hasMin: Bool { !isSigned }
    @inlinable public static var hasScales: Bool { false }
}

public enum Q8_0: SliceDecoder {
    @inlinable public static var largestMagnitude: Int { 128 }
    @inlinable public static var blockBytes: Int { 34 }
    @inlinable public static var slicesPerBlock: Int { 1 }
    @inlinable public static var isSigned: Bool { true }
    @inlinable @inline(__always) public static func decode(_ b: UnsafeRawPointer, slice: Int) -> Slice {
        Slice(q: load256(b + 2), mul: ones16, factor: f16(b), min: 0)
    }
}

/// IQ4_NL: 4-bit indices into a table of 16 signed values, looked up by a byte shuffle.
public enum IQ4_NL: SliceDecoder {
    @inlinable public static var largestMagnitude: Int { 127 }
    @inlinable public static var blockBytes: Int { 18 }
    @inlinable public static var slicesPerBlock: Int { 1 }
    @inlinable public static var isSigned: Bool { true }
    @inlinable @inline(__always) public static func decode(_ b: UnsafeRawPointer, slice: Int) -> Slice {
        Slice(q: _mm256_shuffle_epi8(nonLinearTable, nibbles(b + 2)), mul: ones16, factor: f16(b), min: 0)
    }
}

/// MXFP4 (gpt-oss): IQ4_NL's layout with FP4 values and a power-of-two scale byte.
public enum MXFP4: SliceDecoder {
    @inlinable public static var largestMagnitude: Int { 12 }
    @inlinable public static var blockBytes: Int { 17 }
    @inlinable public static var slicesPerBlock: Int { 1 }
    @inlinable public static var isSigned: Bool { true }
    @inlinable @inline(__always) public static func decode(_ b: UnsafeRawPointer, slice: Int) -> Slice {
        Slice(q: _mm256_shuffle_epi8(fp4Table, nibbles(b + 1)), mul: ones16, factor: e8m0Half(b.load(as: UInt8.self)), min: 0)
    }
}

/// IQ4_XS: blocks of 256 as 8 slices of IQ4_NL's indices, each with a signed 6-bit scale.
public enum IQ4_XS: SliceDecoder {
    @inlinable public static var largestMagnitude: Int { 127 }
    @inlinable public static var hasScales: Bool { true }
    @inlinable public static var blockBytes: Int { 136 }
    @inlinable public static var slicesPerBlock: Int { 8 }
    @inlinable public static var isSigned: Bool { true }
    @inlinable @inline(__always) public static func decode(_ b: UnsafeRawPointer, slice s: Int) -> Slice {
        let low = Int16(b.load(fromByteOffset: 4 + s / 2, as: UInt8.self) >> UInt8(4 * (s % 2))) & 0xF
        let high = Int16(bitPattern: b.loadUnaligned(fromByteOffset: 2, as: UInt16.self) >> UInt16(2 * s)) & 3
        return Slice(q: _mm256_shuffle_epi8(nonLinearTable, nibbles(b + 8 + 16 * s)), mul: _mm256_set1_epi16((low | high << 4) - 32),
                     factor: f16(b), min: 0)
    }
}

/// Q4_0 and Q5_0 multiply unsigned values; their offset (−8, −16) acts as a minimum through the block sums.
public enum Q4_0: SliceDecoder {
    @inlinable public static var largestMagnitude: Int { 15 }
    @inlinable public static var blockBytes: Int { 18 }
    @inlinable public static var slicesPerBlock: Int { 1 }
    @inlinable @inline(__always) public static func decode(_ b: UnsafeRawPointer, slice: Int) -> Slice {
        let d = f16(b)
        return Slice(q: nibbles(b + 2), mul: ones16, factor: d, min: -8 * d)
    }
}

public enum Q4_1: SliceDecoder {
    @inlinable public static var largestMagnitude: Int { 15 }
    @inlinable public static var blockBytes: Int { 20 }
    @inlinable public static var slicesPerBlock: Int { 1 }
    @inlinable @inline(__always) public static func decode(_ b: UnsafeRawPointer, slice: Int) -> Slice {
        let m = f16(b, 2)
        return Slice(q: nibbles(b + 4), mul: ones16, factor: f16(b), min: m)
    }
}

public enum Q5_0: SliceDecoder {
    @inlinable public static var largestMagnitude: Int { 31 }
    @inlinable public static var blockBytes: Int { 22 }
    @inlinable public static var slicesPerBlock: Int { 1 }
    @inlinable @inline(__always) public static func decode(_ b: UnsafeRawPointer, slice: Int) -> Slice {
        let d = f16(b)
        let q = _mm256_or_si256(nibbles(b + 6), highBits(b.loadUnaligned(fromByteOffset: 2, as: UInt32.self)))
        return Slice(q: q, mul: ones16, factor: d, min: -16 * d)
    }
}

public enum Q5_1: SliceDecoder {
    @inlinable public static var largestMagnitude: Int { 31 }
    @inlinable public static var blockBytes: Int { 24 }
    @inlinable public static var slicesPerBlock: Int { 1 }
    @inlinable @inline(__always) public static func decode(_ b: UnsafeRawPointer, slice: Int) -> Slice {
        let m = f16(b, 2)
        let q = _mm256_or_si256(nibbles(b + 8), highBits(b.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        return Slice(q: q, mul: ones16, factor: f16(b), min: m)
    }
}

/// Q4_K and Q5_K: 8 slices of 32 with 6-bit scales and minimums.
public enum Q4_K: SliceDecoder {
    @inlinable public static var largestMagnitude: Int { 15 }
    @inlinable public static var hasScales: Bool { true }
    @inlinable public static var blockBytes: Int { 144 }
    @inlinable public static var slicesPerBlock: Int { 8 }
    @inlinable @inline(__always) public static func decode(_ b: UnsafeRawPointer, slice s: Int) -> Slice {
        let bytes = load256(b + 16 + 32 * (s / 2))
        let q = s % 2 == 0 ? _mm256_and_si256(bytes, lowNibbles) : _mm256_and_si256(_mm256_srli_epi16(bytes, 4), lowNibbles)
        let (sc, mn) = scaleMinK4(s, b + 4)
        let m = -f16(b, 2) * Float(mn)
        return Slice(q: q, mul: _mm256_set1_epi16(Int16(sc)), factor: f16(b), min: m)
    }
}

public enum Q5_K: SliceDecoder {
    @inlinable public static var largestMagnitude: Int { 31 }
    @inlinable public static var hasScales: Bool { true }
    @inlinable public static var blockBytes: Int { 176 }
    @inlinable public static var slicesPerBlock: Int { 8 }
    @inlinable @inline(__always) public static func decode(_ b: UnsafeRawPointer, slice s: Int) -> Slice {
        let bytes = load256(b + 48 + 32 * (s / 2))
        var q = s % 2 == 0 ? _mm256_and_si256(bytes, lowNibbles) : _mm256_and_si256(_mm256_srli_epi16(bytes, 4), lowNibbles)
        let bit = _mm256_and_si256(_mm256_srl_epi16(load256(b + 16), _mm_cvtsi32_si128(Int32(s))), _mm256_set1_epi8(1))
        q = _mm256_or_si256(q, _mm256_slli_epi16(bit, 4))
        let (sc, mn) = scaleMinK4(s, b + 4)
        let m = -f16(b, 2) * Float(mn)
        return Slice(q: q, mul: _mm256_set1_epi16(Int16(sc)), factor: f16(b), min: m)
    }
}

/// Q6_K: 8 slices of 32, each half with its own signed 8-bit scale; values are offset by 32.
public enum Q6_K: SliceDecoder {
    @inlinable public static var largestMagnitude: Int { 32 }
    @inlinable public static var hasScales: Bool { true }
    @inlinable public static var blockBytes: Int { 210 }
    @inlinable public static var slicesPerBlock: Int { 8 }
    @inlinable public static var isSigned: Bool { true }
    @inlinable @inline(__always) public static func decode(_ b: UnsafeRawPointer, slice s: Int) -> Slice {
        let half = s / 4, quarter = s % 4
        let ql = load256(b + 64 * half + (quarter % 2 == 1 ? 32 : 0))
        let low = quarter < 2 ? _mm256_and_si256(ql, lowNibbles) : _mm256_and_si256(_mm256_srli_epi16(ql, 4), lowNibbles)
        let qh = _mm256_and_si256(_mm256_srl_epi16(load256(b + 128 + 32 * half), _mm_cvtsi32_si128(Int32(2 * quarter))), _mm256_set1_epi8(3))
        let q = _mm256_sub_epi8(_mm256_or_si256(low, _mm256_slli_epi16(qh, 4)), _mm256_set1_epi8(32))
        let scales = b + 192 + 8 * half + 2 * quarter
        let s0 = Int16(scales.load(as: Int8.self)), s1 = Int16(scales.load(fromByteOffset: 1, as: Int8.self))
        return Slice(q: q, mul: _mm256_set_m128i(_mm_set1_epi16(s1), _mm_set1_epi16(s0)), factor: f16(b, 208), min: 0)
    }
}

/// How a decoded slice is multiplied with 32 int8 activations into eight int32 partial sums (lanes 0-3
/// from the first 16 values, 4-7 from the second): `maddubs`+`madd` here, `dpbusd` in the VNNI target.
public protocol SliceProduct {
    static func partials<D: SliceDecoder>(_: D.Type, _ slice: Slice, _ x: UnsafePointer<Int8>) -> __m256i
    /// The same for `InterleavedRows`' layout, over half a slice: the four vectors at `rows` (32 bytes
    /// apart; signed types' values 256 bytes after their magnitudes) × four groups of four activation
    /// bytes at `x`, each broadcast to every lane, times `mul`: lane j is row j's sum of 16 products.
    static func rowPartials<D: SliceDecoder>(_: D.Type, _ rows: UnsafeRawPointer, _ x: UnsafeRawPointer, _ mul: __m256i) -> __m256i
}

public enum MaddubsProduct: SliceProduct {
    @inlinable @inline(__always)
    public static func partials<D: SliceDecoder>(_: D.Type, _ slice: Slice, _ x: UnsafePointer<Int8>) -> __m256i {
        let xv = load256(x)
        let product = D.isSigned
            ? _mm256_maddubs_epi16(_mm256_sign_epi8(slice.q, slice.q), _mm256_sign_epi8(xv, slice.q))
            : _mm256_maddubs_epi16(slice.q, xv)
        return _mm256_madd_epi16(product, slice.mul)
    }

    @inlinable @inline(__always)
    public static func rowPartials<D: SliceDecoder>(_: D.Type, _ rows: UnsafeRawPointer, _ x: UnsafeRawPointer, _ mul: __m256i) -> __m256i {
        @inline(__always) func product(_ i: Int) -> __m256i {
            let xs = _mm256_set1_epi32(x.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
            let w = load256(rows + 32 * i)
            return _mm256_maddubs_epi16(w, D.isSigned ? _mm256_sign_epi8(xs, load256(rows + 256 + 32 * i)) : xs)
        }
        // Activations lie within ±127, so four products' pair sums stay within 16 bits when |q| ≤ 32:
        // one widening for four steps. The integer sum is the same either way.
        if 4 * 2 * 127 * D.largestMagnitude <= Int(Int16.max) {
            return _mm256_madd_epi16(_mm256_add_epi16(_mm256_add_epi16(product(0), product(1)), _mm256_add_epi16(product(2), product(3))), mul)
        }
        return _mm256_add_epi32(_mm256_add_epi32(_mm256_madd_epi16(product(0), mul), _mm256_madd_epi16(product(1), mul)),
                                _mm256_add_epi32(_mm256_madd_epi16(product(2), mul), _mm256_madd_epi16(product(3), mul)))
    }
}

public enum AVX2Dot {
    /// Matrix × vector (generation): one accumulator, no batching logic.
    @inlinable @inline(__always)
    static func single<P: SliceProduct, D: SliceDecoder>(_: P.Type, _: D.Type, _ row: UnsafeRawPointer, _ sx: UnsafePointer<Float>, _ x: UnsafePointer<Int8>,
                                        _ sums: UnsafePointer<Float>, _ blocks: Int) -> Float {
        var acc = _mm256_setzero_ps()
        var extra: Float = 0
        var ab = 0
        for b in 0..<blocks {
            let block = row + b * D.blockBytes
            for s in 0..<D.slicesPerBlock {
                let slice = D.decode(block, slice: s)
                let p = P.partials(D.self, slice, x + 32 * ab)
                let dx = sx[ab]
                acc = _mm256_fmadd_ps(_mm256_set1_ps(slice.factor * dx), _mm256_cvtepi32_ps(p), acc)
                // Fused, as llama.cpp's compiled kernel accumulates the minimum terms.
                if D.hasMin { extra = extra.addingProduct(slice.min, sums[ab]) }
                ab += 1
            }
        }
        return horizontalSum(acc) + extra
    }

    /// The weight types (ggml numbering) this path computes; others use the portable path.
    public static let supportedTypeIDs: Set<UInt32> = [2, 3, 6, 7, 8, 12, 13, 14, 20, 23, 39]

    /// For each row r in `rows` (each `rowBytes` long, starting at `data`):
    /// out[t · outStride + r] = row r · x_t, for `tokens` activation vectors that are `count` values apart;
    /// the first `tiled` tokens (a multiple of 8) eight at a time, the rest as single tokens round.
    /// The row loop lives here so the type is dispatched once per matrix, not once per row.
    public static func multiply(typeID: UInt32, data: UnsafeRawPointer, rowBytes: Int, rows: Range<Int>,
                                scales: UnsafePointer<Float>, values: UnsafePointer<Int8>, blockSums: UnsafePointer<Float>,
                                scalesByBlock: UnsafePointer<Float>, sumsByBlock: UnsafePointer<Float>,
                                count: Int, tokens: Int, tiled: Int, out: UnsafeMutablePointer<Float>, outStride: Int) {
        multiply(MaddubsProduct.self, typeID: typeID, data: data, rowBytes: rowBytes, rows: rows, scales: scales, values: values,
                 blockSums: blockSums, scalesByBlock: scalesByBlock, sumsByBlock: sumsByBlock, count: count, tokens: tokens,
                 tiled: tiled, out: out, outStride: outStride)
    }

    /// The same with another slice product (the VNNI target passes its own; inlined there, so compiled with its features).
    @inlinable @inline(__always)
    public static func multiply<P: SliceProduct>(_ product: P.Type, typeID: UInt32, data: UnsafeRawPointer, rowBytes: Int, rows: Range<Int>,
                                scales: UnsafePointer<Float>, values: UnsafePointer<Int8>, blockSums: UnsafePointer<Float>,
                                scalesByBlock: UnsafePointer<Float>, sumsByBlock: UnsafePointer<Float>,
                                count: Int, tokens: Int, tiled: Int, out: UnsafeMutablePointer<Float>, outStride: Int) {
        @inline(__always) func each<D: SliceDecoder>(_ d: D.Type) {
            rowsLoop(P.self, d, data: data, rowBytes: rowBytes, rows: rows, scales: scales, values: values, blockSums: blockSums,
                     scalesByBlock: scalesByBlock, sumsByBlock: sumsByBlock, count: count, tokens: tokens, tiled: tiled,
                     out: out, outStride: outStride)
        }
        switch typeID {
        case 2: each(Q4_0.self)
        case 3: each(Q4_1.self)
        case 6: each(Q5_0.self)
        case 7: each(Q5_1.self)
        case 8: each(Q8_0.self)
        case 12: each(Q4_K.self)
        case 13: each(Q5_K.self)
        case 14: each(Q6_K.self)
        case 20: each(IQ4_NL.self)
        case 23: each(IQ4_XS.self)
        case 39: each(MXFP4.self)
        default: preconditionFailure("AVX2 dot product for type \(typeID) not available")
        }
    }

    /// The first `tiled` tokens take the tiled kernel in groups of eight; the rest the four-token one,
    /// which rounds as a single token does (so a generating sequence's result does not depend on how
    /// many others share its step). Rows go in blocks
    /// that stay in cache while every token group passes over them, and each group's activations stay in
    /// L1 while the rows of a block pass over it.
    @inlinable @inline(__always)
    public static func rowsLoop<P: SliceProduct, D: SliceDecoder>(_: P.Type, _ d: D.Type, data: UnsafeRawPointer, rowBytes: Int, rows: Range<Int>,
                                                                 scales: UnsafePointer<Float>, values: UnsafePointer<Int8>,
                                                                 blockSums: UnsafePointer<Float>, scalesByBlock: UnsafePointer<Float>,
                                                                 sumsByBlock: UnsafePointer<Float>, count: Int, tokens: Int, tiled: Int,
                                                                 out: UnsafeMutablePointer<Float>, outStride: Int) {
        // Enough tiled tokens to pay for decoding rows once: whole groups of eight rows go interleaved.
        let interleavedEnd = tiled >= 16 ? rows.lowerBound + rows.count / 8 * 8 : rows.lowerBound
        if interleavedEnd > rows.lowerBound {
            let slices = count / 32
            let groupBytes = InterleavedRows.groupBytes(D.self, slices: slices)
            // Up to four groups at a time, within 128 KiB (L2), so token groups pass over more rows per visit.
            let groups = max(1, min(4, 131_072 / groupBytes))
            withUnsafeTemporaryAllocation(byteCount: groups * groupBytes, alignment: 64) { scratch in
                let scratch = scratch.baseAddress!
                for first in stride(from: rows.lowerBound, to: interleavedEnd, by: 8 * groups) {
                    let count = min(groups, (interleavedEnd - first) / 8)
                    for g in 0..<count {
                        InterleavedRows.decode(d, data + (first + 8 * g) * rowBytes, rowBytes: rowBytes, slices: slices, into: scratch + g * groupBytes)
                    }
                    for t in stride(from: 0, to: tiled, by: 8) {
                        for g in 0..<count {
                            let rowsOut = out + first + 8 * g
                            InterleavedRows.runFour(P.self, d, scratch + g * groupBytes, slices: slices, values, scalesByBlock, sumsByBlock,
                                                    tokens: tokens, group: t, t, rowsOut, outStride)
                            InterleavedRows.runFour(P.self, d, scratch + g * groupBytes, slices: slices, values, scalesByBlock, sumsByBlock,
                                                    tokens: tokens, group: t, t + 4, rowsOut, outStride)
                        }
                    }
                }
            }
            if tiled < tokens {
                for r in rows.lowerBound..<interleavedEnd {
                    run(P.self, d, data + r * rowBytes, scales, values, blockSums, count, tokens, out + r, outStride, from: tiled)
                }
            }
        }
        let rowBlock = 32
        for first in stride(from: interleavedEnd, to: rows.upperBound, by: rowBlock) {
            let block = first..<min(first + rowBlock, rows.upperBound)
            for t in stride(from: 0, to: tiled, by: 8) {
                for r in block {
                    runEight(P.self, d, data + r * rowBytes, scalesByBlock, values, sumsByBlock, count, tokens, t, out + r, outStride)
                }
            }
            if tiled < tokens {
                for r in block {
                    run(P.self, d, data + r * rowBytes, scales, values, blockSums, count, tokens, out + r, outStride, from: tiled)
                }
            }
        }
    }

    /// Eight tokens (from `t`), reduced across lanes: the eight int32 partial-sum vectors of one slice are
    /// folded into one vector whose lane k is token k's sum, so conversion, scaling and accumulation
    /// happen once per slice for all eight tokens. Scales and sums come block-major ([block][token]).
    @inlinable @inline(__always)
    static func runEight<P: SliceProduct, D: SliceDecoder>(_: P.Type, _: D.Type, _ row: UnsafeRawPointer, _ sxByBlock: UnsafePointer<Float>,
                                          _ x: UnsafePointer<Int8>, _ sumsByBlock: UnsafePointer<Float>, _ count: Int,
                                          _ tokens: Int, _ t: Int, _ out: UnsafeMutablePointer<Float>, _ outStride: Int) {
        let slices = count / 32
        let blocks = slices / D.slicesPerBlock
        let stride = 32 * slices
        var acc = _mm256_setzero_ps()
        for b in 0..<blocks {
            let block = row + b * D.blockBytes
            let first = b * D.slicesPerBlock
            if D.hasScales && sharesScale(sxByBlock + first * tokens + t, slices: D.slicesPerBlock, tokens: tokens) {
                // K-quants on llama.cpp's q8_K grid: the block's factor and the tokens' activation scales are
                // the same for all its slices, so the integer partials add up over the block and are
                // folded, converted and scaled once.
                var q = (_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                         _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256())
                var factor: Float = 0
                for s in 0..<D.slicesPerBlock {
                    let slice = D.decode(block, slice: s)
                    factor = slice.factor
                    let xs = x + 32 * (t * slices + first + s)
                    q.0 = _mm256_add_epi32(q.0, P.partials(D.self, slice, xs))
                    q.1 = _mm256_add_epi32(q.1, P.partials(D.self, slice, xs + stride))
                    q.2 = _mm256_add_epi32(q.2, P.partials(D.self, slice, xs + 2 * stride))
                    q.3 = _mm256_add_epi32(q.3, P.partials(D.self, slice, xs + 3 * stride))
                    q.4 = _mm256_add_epi32(q.4, P.partials(D.self, slice, xs + 4 * stride))
                    q.5 = _mm256_add_epi32(q.5, P.partials(D.self, slice, xs + 5 * stride))
                    q.6 = _mm256_add_epi32(q.6, P.partials(D.self, slice, xs + 6 * stride))
                    q.7 = _mm256_add_epi32(q.7, P.partials(D.self, slice, xs + 7 * stride))
                    if D.hasMin {
                        acc = _mm256_fmadd_ps(_mm256_set1_ps(slice.min), _mm256_loadu_ps(sumsByBlock + (first + s) * tokens + t), acc)
                    }
                }
                let dx = _mm256_loadu_ps(sxByBlock + first * tokens + t)
                acc = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(factor), dx), _mm256_cvtepi32_ps(laneSums(q.0, q.1, q.2, q.3, q.4, q.5, q.6, q.7)), acc)
                continue
            }
            for s in 0..<D.slicesPerBlock {
                let slice = D.decode(block, slice: s)
                let index = first + s
                let xs = x + 32 * (t * slices + index)
                let sums8 = laneSums(P.partials(D.self, slice, xs), P.partials(D.self, slice, xs + stride),
                                     P.partials(D.self, slice, xs + 2 * stride), P.partials(D.self, slice, xs + 3 * stride),
                                     P.partials(D.self, slice, xs + 4 * stride), P.partials(D.self, slice, xs + 5 * stride),
                                     P.partials(D.self, slice, xs + 6 * stride), P.partials(D.self, slice, xs + 7 * stride))
                let dx = _mm256_loadu_ps(sxByBlock + index * tokens + t)
                acc = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(slice.factor), dx), _mm256_cvtepi32_ps(sums8), acc)
                if D.hasMin {
                    acc = _mm256_fmadd_ps(_mm256_set1_ps(slice.min), _mm256_loadu_ps(sumsByBlock + index * tokens + t), acc)
                }
            }
        }
        let lanes = unsafeBitCast(acc, to: SIMD8<Float>.self)
        for k in 0..<8 { out[(t + k) * outStride] = lanes[k] }
    }

    /// Whether eight tokens' activation scales (block-major, `tokens` apart) are equal over `slices` slices.
    @inlinable @inline(__always)
    static func sharesScale(_ sx: UnsafePointer<Float>, slices: Int, tokens: Int) -> Bool {
        let first = _mm256_castps_si256(_mm256_loadu_ps(sx))
        var same = _mm256_set1_epi32(-1)
        for s in 1..<slices {
            // Bit-for-bit equality: the q8_K grid stores the very same float.
            same = _mm256_and_si256(same, _mm256_cmpeq_epi32(_mm256_castps_si256(_mm256_loadu_ps(sx + s * tokens)), first))
        }
        return _mm256_movemask_epi8(same) == -1
    }

    /// Eight tokens' int32 partial-sum vectors folded into one vector whose lane k is token k's sum.
    @inlinable @inline(__always)
    static func laneSums(_ p0: __m256i, _ p1: __m256i, _ p2: __m256i, _ p3: __m256i,
                         _ p4: __m256i, _ p5: __m256i, _ p6: __m256i, _ p7: __m256i) -> __m256i {
        let swapHalves = _mm256_setr_epi32(4, 5, 6, 7, 0, 1, 2, 3)
        // Lanes 0-3: tokens 0-3 (low 128 bits + high 128 bits after the fold), likewise 4-7.
        let h0123 = _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3))
        let h4567 = _mm256_hadd_epi32(_mm256_hadd_epi32(p4, p5), _mm256_hadd_epi32(p6, p7))
        let f0123 = _mm256_add_epi32(h0123, _mm256_permutevar8x32_epi32(h0123, swapHalves))
        let f4567 = _mm256_add_epi32(h4567, _mm256_permutevar8x32_epi32(h4567, swapHalves))
        return _mm256_blendv_epi8(f0123, f4567, _mm256_setr_epi32(0, 0, 0, 0, -1, -1, -1, -1))
    }

    /// Tokens are taken four at a time so that each decoded slice feeds four accumulators.
    @inlinable @inline(__always)
    static func run<P: SliceProduct, D: SliceDecoder>(_: P.Type, _: D.Type, _ row: UnsafeRawPointer, _ sx: UnsafePointer<Float>, _ x: UnsafePointer<Int8>,
                                     _ sums: UnsafePointer<Float>, _ count: Int, _ tokens: Int,
                                     _ out: UnsafeMutablePointer<Float>, _ outStride: Int, from first: Int = 0) {
        let slices = count / 32
        let blocks = slices / D.slicesPerBlock
        if tokens == 1 {
            out[0] = single(P.self, D.self, row, sx, x, sums, blocks)
            return
        }
        var t = first
        while t < tokens {
            let group = min(4, tokens - t)
            var acc = (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps())
            var extra: (Float, Float, Float, Float) = (0, 0, 0, 0)
            for b in 0..<blocks {
                let block = row + b * D.blockBytes
                for s in 0..<D.slicesPerBlock {
                    let slice = D.decode(block, slice: s)
                    let index = b * D.slicesPerBlock + s
                    @inline(__always) func accumulate(_ k: Int, _ a: inout __m256, _ e: inout Float) {
                        let ab = (t + k) * slices + index
                        let p = P.partials(D.self, slice, x + 32 * ab)
                        let dx = sx[ab]
                        a = _mm256_fmadd_ps(_mm256_set1_ps(slice.factor * dx), _mm256_cvtepi32_ps(p), a)
                        if D.hasMin { e = e.addingProduct(slice.min, sums[ab]) }
                    }
                    accumulate(0, &acc.0, &extra.0)
                    if group > 1 { accumulate(1, &acc.1, &extra.1) }
                    if group > 2 { accumulate(2, &acc.2, &extra.2) }
                    if group > 3 { accumulate(3, &acc.3, &extra.3) }
                }
            }
            out[t * outStride] = horizontalSum(acc.0) + extra.0
            if group > 1 { out[(t + 1) * outStride] = horizontalSum(acc.1) + extra.1 }
            if group > 2 { out[(t + 2) * outStride] = horizontalSum(acc.2) + extra.2 }
            if group > 3 { out[(t + 3) * outStride] = horizontalSum(acc.3) + extra.3 }
            t += group
        }
    }
}
