/// GPT-2's reversible mapping between bytes and printable code points, so that byte-level BPE
/// vocabularies can store every byte sequence as text.
enum ByteLevel {
    /// Code point for each byte value.
    static let encode: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var extra: UInt32 = 256
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable {
                table[b] = UInt32(b)
            } else {
                table[b] = extra
                extra += 1
            }
        }
        return table
    }()

    /// Byte for each code point below 512 that `encode` produces; -1 elsewhere.
    static let decode: [Int16] = {
        var table = [Int16](repeating: -1, count: 512)
        for (b, cp) in encode.enumerated() { table[Int(cp)] = Int16(b) }
        return table
    }()

    /// The raw bytes a byte-level token text stands for; nil if it holds a code point outside the mapping.
    static func bytes(of text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            let v = scalar.value
            guard v < 512, decode[Int(v)] >= 0 else { return nil }
            out.append(UInt8(decode[Int(v)]))
        }
        return out
    }
}
