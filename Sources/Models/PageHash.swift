/// The chain hash of a page of tokens: a 64-bit mix of the previous page's chain hash and the
/// page's tokens, so equal hashes mean (barring collisions, which lookups rule out by comparing the
/// tokens) equal prefixes from position 0. Stable across runs: the disk cache is keyed by it.
enum PageHash {
    /// The chain hash of the empty prefix.
    static let root: UInt64 = 0x9E37_79B9_7F4A_7C15

    static func chain(_ parent: UInt64, _ tokens: ArraySlice<Int32>) -> UInt64 {
        var h = parent
        for t in tokens { h = mix(h ^ UInt64(UInt32(bitPattern: t))) }
        return mix(h ^ UInt64(tokens.count))
    }

    /// splitmix64's finaliser.
    @inline(__always) static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
