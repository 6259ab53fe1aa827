import GGUF

/// Plain scalar dequantization of every supported weight type. It is the reference the fast
/// kernels are tested against, and the path for embedding lookups and small tensors.
public enum Dequantize {
    public static func isSupported(_ type: GGMLType) -> Bool {
        switch type {
        case .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_nl, .iq4_xs, .mxfp4: return true
        default: return false
        }
    }

    /// Dequantizes `count` elements (a whole number of blocks) starting at `src`.
    public static func row(_ type: GGMLType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        let (perBlock, bytes) = type.blockGeometry
        for b in 0..<(count / perBlock) {
            block(type, src + b * bytes, dst + b * perBlock)
        }
    }

    @inline(__always)
    static func block(_ type: GGMLType, _ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        switch type {
        case .f32: y[0] = x.loadUnaligned(as: Float.self)
        case .f16: y[0] = loadF16(x)
        case .bf16: y[0] = loadBF16(x)
        case .q4_0:
            let d = loadF16(x)
            for j in 0..<16 {
                let q = byte(x, 2 + j)
                y[j] = d * Float(Int(q & 0xF) - 8)
                y[j + 16] = d * Float(Int(q >> 4) - 8)
            }
        case .q4_1:
            let d = loadF16(x), m = loadF16(x, 2)
            for j in 0..<16 {
                let q = byte(x, 4 + j)
                y[j] = d * Float(q & 0xF) + m
                y[j + 16] = d * Float(q >> 4) + m
            }
        case .q5_0, .q5_1:
            let hasMin = type == .q5_1
            let d = loadF16(x), m = hasMin ? loadF16(x, 2) : 0
            let hOffset = hasMin ? 4 : 2
            let qh = x.loadUnaligned(fromByteOffset: hOffset, as: UInt32.self)
            let offset = hasMin ? 0 : 16
            for j in 0..<16 {
                let q = byte(x, hOffset + 4 + j)
                let h0 = Int((qh >> UInt32(j)) & 1) << 4
                let h1 = Int((qh >> UInt32(j + 16)) & 1) << 4
                y[j] = d * Float((Int(q & 0xF) | h0) - offset) + m
                y[j + 16] = d * Float((Int(q >> 4) | h1) - offset) + m
            }
        case .q8_0:
            let d = loadF16(x)
            for j in 0..<32 { y[j] = d * Float(Int8(bitPattern: byte(x, 2 + j))) }
        case .iq4_nl:
            let d = loadF16(x)
            for j in 0..<16 {
                let q = byte(x, 2 + j)
                y[j] = d * Float(nonLinear4[Int(q & 0xF)])
                y[j + 16] = d * Float(nonLinear4[Int(q >> 4)])
            }
        case .mxfp4:
            let d = mxfp4Scale(byte(x, 0))
            for j in 0..<16 {
                let q = byte(x, 1 + j)
                y[j] = d * Float(fp4Values[Int(q & 0xF)])
                y[j + 16] = d * Float(fp4Values[Int(q >> 4)])
            }
        case .iq4_xs:
            // d, 2 high bits of each of the 8 sub-block scales, their 4 low bits, then 8 × 16 bytes of indices.
            let d = loadF16(x)
            for s in 0..<8 {
                let dl = d * Float(iq4XSScale(x, s))
                for j in 0..<16 {
                    let q = byte(x, 8 + 16 * s + j)
                    y[32 * s + j] = dl * Float(nonLinear4[Int(q & 0xF)])
                    y[32 * s + j + 16] = dl * Float(nonLinear4[Int(q >> 4)])
                }
            }
        case .q2_K:
            // scales[16], qs[64], d, dmin
            let d = loadF16(x, 80), dmin = loadF16(x, 82)
            var out = y
            var s = 0
            for half in 0..<2 {
                let q = x + 16 + 32 * half
                for shift in stride(from: 0, to: 8, by: 2) {
                    for part in 0..<2 {
                        let sc = byte(x, s); s += 1
                        let dl = d * Float(sc & 0xF), ml = dmin * Float(sc >> 4)
                        for l in 0..<16 { out[l] = dl * Float((byte(q, 16 * part + l) >> UInt8(shift)) & 3) - ml }
                        out += 16
                    }
                }
            }
        case .q3_K:
            // hmask[32], qs[64], scales[12], d
            let d = loadF16(x, 108)
            let scales = scalesQ3K(x + 96)
            var out = y
            var s = 0
            var mask: UInt8 = 1
            for half in 0..<2 {
                let q = x + 32 + 32 * half
                for shift in stride(from: 0, to: 8, by: 2) {
                    for part in 0..<2 {
                        let dl = d * Float(scales[s]); s += 1
                        for l in 0..<16 {
                            let low = Int((byte(q, 16 * part + l) >> UInt8(shift)) & 3)
                            let high = byte(x, 16 * part + l) & mask != 0 ? 0 : 4
                            out[l] = dl * Float(low - high)
                        }
                        out += 16
                    }
                    mask <<= 1
                }
            }
        case .q4_K, .q5_K:
            // d, dmin, scales[12], (qh[32] for Q5_K), qs[128]
            let five = type == .q5_K
            let d = loadF16(x), dmin = loadF16(x, 2)
            let qh = x + 16
            let qs = x + (five ? 48 : 16)
            for pair in 0..<4 {
                for nibble in 0..<2 {
                    let (sc, mn) = scaleMinK4(2 * pair + nibble, x + 4)
                    let dl = d * Float(sc), ml = dmin * Float(mn)
                    let bit = UInt8(1) << UInt8(2 * pair + nibble)
                    for l in 0..<32 {
                        var q = Int((byte(qs, 32 * pair + l) >> UInt8(4 * nibble)) & 0xF)
                        if five && byte(qh, l) & bit != 0 { q += 16 }
                        y[64 * pair + 32 * nibble + l] = dl * Float(q) - ml
                    }
                }
            }
        case .q6_K:
            // ql[128], qh[64], scales[16] (int8), d
            let d = loadF16(x, 208)
            for half in 0..<2 {
                let ql = x + 64 * half, qh = x + 128 + 32 * half
                let sc = x + 192 + 8 * half
                for l in 0..<32 {
                    let h = byte(qh, l)
                    let q1 = Int((byte(ql, l) & 0xF) | ((h & 3) << 4)) - 32
                    let q2 = Int((byte(ql, l + 32) & 0xF) | (((h >> 2) & 3) << 4)) - 32
                    let q3 = Int((byte(ql, l) >> 4) | (((h >> 4) & 3) << 4)) - 32
                    let q4 = Int((byte(ql, l + 32) >> 4) | (((h >> 6) & 3) << 4)) - 32
                    let s = l / 16
                    let scale = { (i: Int) in d * Float(Int8(bitPattern: byte(sc, i))) }
                    y[128 * half + l] = scale(s) * Float(q1)
                    y[128 * half + l + 32] = scale(s + 2) * Float(q2)
                    y[128 * half + l + 64] = scale(s + 4) * Float(q3)
                    y[128 * half + l + 96] = scale(s + 6) * Float(q4)
                }
            }
        default:
            preconditionFailure("dequantization of \(type) is not supported")
        }
    }
}

/// The 16 values IQ4_NL's (and IQ4_XS's) 4-bit indices stand for: a grid denser near zero, as
/// llama.cpp defines it.
public let nonLinear4: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

/// The 16 values of MXFP4's 4-bit codes: FP4 (E2M1) numbers doubled, so they are integers (the
/// block scale is halved to match), as llama.cpp defines them.
public let fp4Values: [Int8] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]

/// MXFP4's block scale: the E8M0 byte e stands for 2^(e − 127), halved for the doubled table.
@inline(__always) func mxfp4Scale(_ e: UInt8) -> Float { Float(sign: .plus, exponent: Int(e) - 128, significand: 1) }

/// IQ4_XS's signed 6-bit scale of sub-block `s` (of 8) in the block at `x`.
@inline(__always) func iq4XSScale(_ x: UnsafeRawPointer, _ s: Int) -> Int {
    let low = Int(x.load(fromByteOffset: 4 + s / 2, as: UInt8.self) >> UInt8(4 * (s % 2))) & 0xF
    let high = Int(x.loadUnaligned(fromByteOffset: 2, as: UInt16.self) >> UInt16(2 * s)) & 3
    return (low | high << 4) - 32
}
