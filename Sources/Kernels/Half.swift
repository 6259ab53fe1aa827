/// Half-precision and bfloat16 loads from raw (possibly unaligned) bytes.
@inline(__always) func loadF16(_ p: UnsafeRawPointer, _ offset: Int = 0) -> Float {
    Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
}

@inline(__always) func loadBF16(_ p: UnsafeRawPointer, _ offset: Int = 0) -> Float {
    Float(bitPattern: UInt32(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)) << 16)
}

@inline(__always) func byte(_ p: UnsafeRawPointer, _ offset: Int) -> UInt8 {
    p.load(fromByteOffset: offset, as: UInt8.self)
}

/// The 6-bit scale and min of sub-block `j` from the 12 packed bytes of Q4_K and Q5_K blocks.
@inline(__always) func scaleMinK4(_ j: Int, _ q: UnsafeRawPointer) -> (scale: UInt8, min: UInt8) {
    if j < 4 {
        return (byte(q, j) & 63, byte(q, j + 4) & 63)
    }
    return ((byte(q, j + 4) & 0xF) | ((byte(q, j - 4) >> 6) << 4),
            (byte(q, j + 4) >> 4) | ((byte(q, j) >> 6) << 4))
}

/// The sixteen signed 6-bit scales of a Q3_K block from its 12 packed bytes (already minus 32).
@inline(__always) func scalesQ3K(_ q: UnsafeRawPointer) -> SIMD16<Int8> {
    var out = SIMD16<Int8>()
    for i in 0..<16 {
        let low = i < 8 ? byte(q, i) & 0xF : byte(q, i - 8) >> 4
        let high = (byte(q, 8 + i % 4) >> (2 * UInt8(i / 4))) & 3
        out[i] = Int8(bitPattern: low | (high << 4)) - 32
    }
    return out
}
