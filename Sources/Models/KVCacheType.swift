#if canImport(Glibc)
import Glibc
#endif
import Kernels

/// How keys and values are stored: half precision (the default, as llama.cpp's), or q8_0 (blocks of
/// 32 int8 values with a half-precision scale: 34 bytes where f16 takes 64), which holds about
/// twice the positions in the same memory. q8_0 needs head sizes that are multiples of 32.
public enum KVCacheType: String, Sendable, CaseIterable {
    case f16
    case q8_0

    /// Bytes of a row of `width` values.
    public func rowBytes(_ width: Int) -> Int { self == .f16 ? 2 * width : width / 32 * 34 }

    /// Bytes from the start of a row to head `head` of `d` values.
    @inline(__always) func headOffset(_ head: Int, d: Int) -> Int { self == .f16 ? 2 * head * d : head * d / 32 * 34 }

    public func supports(headDim: Int) -> Bool { self == .f16 || headDim % 32 == 0 }

    /// Stores `count` floats as one row.
    @inline(__always) func store(_ x: UnsafePointer<Float>, count: Int, into row: UnsafeMutableRawPointer) {
        switch self {
        case .f16:
            let h = row.assumingMemoryBound(to: Float16.self)
            for i in 0..<count { h[i] = Float16(x[i]) }
        case .q8_0:
            // As llama.cpp quantizes q8_0: scale max|x| / 127, values rounded to nearest.
            for b in 0..<(count / 32) {
                let block = row + b * 34, v = x + b * 32
                var amax: Float = 0
                for i in 0..<32 { amax = max(amax, abs(v[i])) }
                let d = amax / 127, inverse: Float = d > 0 ? 1 / d : 0
                block.storeBytes(of: Float16(d), as: Float16.self)
                let q = (block + 2).assumingMemoryBound(to: Int8.self)
                for i in 0..<32 { q[i] = Int8(roundf(v[i] * inverse)) }
            }
        }
    }

    /// The `d` values of a head in `rows` consecutive rows (`rowBytes` apart) widened to floats,
    /// one row after another.
    @inline(__always) func widen(_ head: UnsafeRawPointer, rowBytes: Int, rows: Int, d: Int, into out: UnsafeMutablePointer<Float>) {
        switch self {
        case .f16:
            AttentionBlocks.widen(head.assumingMemoryBound(to: Float16.self), stride: rowBytes / 2, rows: rows, d: d, into: out)
        case .q8_0:
            for r in 0..<rows {
                for b in 0..<(d / 32) {
                    let block = head + r * rowBytes + b * 34, scale = Float(block.loadUnaligned(as: Float16.self))
                    let q = (block + 2).assumingMemoryBound(to: Int8.self)
                    for i in 0..<32 { out[r * d + b * 32 + i] = scale * Float(q[i]) }
                }
            }
        }
    }
}
