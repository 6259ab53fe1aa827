import GGUF

/// Dot products of one quantized weight row with quantized activations, written plainly: each
/// weight block is unpacked to small integers with a scale and a minimum per 16 values, then
/// multiplied with the int8 activations. The portable path, and the reference for the SIMD paths.
public enum ScalarDot {
    /// One 32-value slice of a weight block in integer form: w[i] = scale[h] * q[i] + min[h], h = i / 16.
    struct Slice {
        var q = [Int8](repeating: 0, count: 32)
        var scale: (Float, Float) = (0, 0)
        var min: (Float, Float) = (0, 0)
    }

    public static func dot(_ type: GGMLType, row: UnsafeRawPointer, _ x: QuantizedActivations, offset: Int = 0, count: Int) -> Float {
        var slice = Slice()
        var total: Float = 0
        let (perBlock, bytes) = type.blockGeometry
        for b in 0..<(count / perBlock) {
            let block = row + b * bytes
            for s in 0..<(perBlock / 32) {
                unpack(type, block, slice: s, into: &slice)
                let ab = (offset + b * perBlock) / 32 + s
                let xq = x.values + 32 * ab
                var i0: Int32 = 0, i1: Int32 = 0
                for i in 0..<16 { i0 += Int32(slice.q[i]) * Int32(xq[i]) }
                for i in 16..<32 { i1 += Int32(slice.q[i]) * Int32(xq[i]) }
                let d = x.scales[ab]
                total += d * (slice.scale.0 * Float(i0) + slice.scale.1 * Float(i1))
                total += d * (slice.min.0 * Float(x.halfSums[2 * ab]) + slice.min.1 * Float(x.halfSums[2 * ab + 1]))
            }
        }
        return total
    }

    /// Float weights (F32, F16, BF16) against float activations.
    public static func dotFloat(_ type: GGMLType, row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var s: Float = 0
        switch type {
        case .f32: for i in 0..<count { s += row.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) * x[i] }
        case .f16: for i in 0..<count { s += loadF16(row, 2 * i) * x[i] }
        case .bf16: for i in 0..<count { s += loadBF16(row, 2 * i) * x[i] }
        default: preconditionFailure("\(type) is not a float type")
        }
        return s
    }

    static func unpack(_ type: GGMLType, _ x: UnsafeRawPointer, slice s: Int, into out: inout Slice) {
        switch type {
        case .q8_0:
            let d = loadF16(x)
            for j in 0..<32 { out.q[j] = Int8(bitPattern: byte(x, 2 + j)) }
            out.scale = (d, d); out.min = (0, 0)
        case .iq4_nl:
            let d = loadF16(x)
            for j in 0..<16 {
                let q = byte(x, 2 + j)
                out.q[j] = nonLinear4[Int(q & 0xF)]
                out.q[j + 16] = nonLinear4[Int(q >> 4)]
            }
            out.scale = (d, d); out.min = (0, 0)
        case .mxfp4:
            let d = mxfp4Scale(byte(x, 0))
            for j in 0..<16 {
                let q = byte(x, 1 + j)
                out.q[j] = fp4Values[Int(q & 0xF)]
                out.q[j + 16] = fp4Values[Int(q >> 4)]
            }
            out.scale = (d, d); out.min = (0, 0)
        case .iq4_xs:
            let d = loadF16(x) * Float(iq4XSScale(x, s))
            for j in 0..<16 {
                let q = byte(x, 8 + 16 * s + j)
                out.q[j] = nonLinear4[Int(q & 0xF)]
                out.q[j + 16] = nonLinear4[Int(q >> 4)]
            }
            out.scale = (d, d); out.min = (0, 0)
        case .q4_0, .q4_1:
            let hasMin = type == .q4_1
            let d = loadF16(x), m: Float = hasMin ? loadF16(x, 2) : 0
            let base = hasMin ? 4 : 2
            let offset: Int8 = hasMin ? 0 : 8
            for j in 0..<16 {
                let q = byte(x, base + j)
                out.q[j] = Int8(q & 0xF) - offset
                out.q[j + 16] = Int8(q >> 4) - offset
            }
            out.scale = (d, d); out.min = (m, m)
        case .q5_0, .q5_1:
            let hasMin = type == .q5_1
            let d = loadF16(x), m: Float = hasMin ? loadF16(x, 2) : 0
            let hOffset = hasMin ? 4 : 2
            let qh = x.loadUnaligned(fromByteOffset: hOffset, as: UInt32.self)
            let offset: Int8 = hasMin ? 0 : 16
            for j in 0..<16 {
                let q = byte(x, hOffset + 4 + j)
                out.q[j] = Int8((q & 0xF) | UInt8((qh >> UInt32(j)) & 1) << 4) - offset
                out.q[j + 16] = Int8((q >> 4) | UInt8((qh >> UInt32(j + 16)) & 1) << 4) - offset
            }
            out.scale = (d, d); out.min = (m, m)
        case .q2_K:
            // Slice s covers 32 values: half = s / 4, shift = 2 * (s % 4); scales 2s and 2s+1.
            let d = loadF16(x, 80), dmin = loadF16(x, 82)
            let q = x + 16 + 32 * (s / 4)
            let shift = UInt8(2 * (s % 4))
            for l in 0..<32 { out.q[l] = Int8((byte(q, l) >> shift) & 3) }
            let sc0 = byte(x, 2 * s), sc1 = byte(x, 2 * s + 1)
            out.scale = (d * Float(sc0 & 0xF), d * Float(sc1 & 0xF))
            out.min = (-dmin * Float(sc0 >> 4), -dmin * Float(sc1 >> 4))
        case .q3_K:
            let d = loadF16(x, 108)
            let scales = scalesQ3K(x + 96)
            let q = x + 32 + 32 * (s / 4)
            let shift = UInt8(2 * (s % 4))
            let mask = UInt8(1) << UInt8(s)
            for l in 0..<32 {
                let low = Int8((byte(q, l) >> shift) & 3)
                out.q[l] = low - (byte(x, l) & mask != 0 ? 0 : 4)
            }
            out.scale = (d * Float(scales[2 * s]), d * Float(scales[2 * s + 1]))
            out.min = (0, 0)
        case .q4_K, .q5_K:
            let five = type == .q5_K
            let d = loadF16(x), dmin = loadF16(x, 2)
            let qs = x + (five ? 48 : 16) + 32 * (s / 2)
            let shift = UInt8(4 * (s % 2))
            let bit = UInt8(1) << UInt8(s)
            for l in 0..<32 {
                var q = (byte(qs, l) >> shift) & 0xF
                if five && byte(x, 16 + l) & bit != 0 { q += 16 }
                out.q[l] = Int8(q)
            }
            let (sc, mn) = scaleMinK4(s, x + 4)
            out.scale = (d * Float(sc), d * Float(sc))
            out.min = (-dmin * Float(mn), -dmin * Float(mn))
        case .q6_K:
            // Slice s: half = s / 4, quarter = s % 4 (which of q1..q4), 32 values l = 0..<32.
            let d = loadF16(x, 208)
            let half = s / 4, quarter = s % 4
            let ql = x + 64 * half + (quarter % 2 == 1 ? 32 : 0)
            let qh = x + 128 + 32 * half
            let lowShift = UInt8(quarter >= 2 ? 4 : 0)
            let highShift = UInt8(2 * quarter)
            for l in 0..<32 {
                let q = ((byte(ql, l) >> lowShift) & 0xF) | (((byte(qh, l) >> highShift) & 3) << 4)
                out.q[l] = Int8(q) - 32
            }
            let sc = x + 192 + 8 * half
            out.scale = (d * Float(Int8(bitPattern: byte(sc, 2 * quarter))), d * Float(Int8(bitPattern: byte(sc, 2 * quarter + 1))))
            out.min = (0, 0)
        default:
            preconditionFailure("integer dot product of \(type) is not supported")
        }
    }
}
