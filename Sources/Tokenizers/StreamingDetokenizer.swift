/// Turns tokens into text as they are generated, never emitting half a UTF-8 character: bytes of an
/// incomplete character wait for the next token. Invalid bytes become U+FFFD.
public struct StreamingDetokenizer {
    private let tokenizer: Tokenizer
    private let special: Bool
    private var pending: [UInt8] = []

    public init(tokenizer: Tokenizer, special: Bool = false) {
        self.tokenizer = tokenizer
        self.special = special
    }

    /// The text that became complete with this token (possibly empty).
    public mutating func append(_ id: Int32) -> String {
        pending += tokenizer.piece(id, special: special)
        let complete = Self.completePrefixLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Whatever is still held back, repaired, at the end of a generation.
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of the prefix that does not end inside a character that could still be completed.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        // Look back at most 3 bytes for the lead byte of an unfinished sequence.
        var i = n - 1
        while i >= 0 && i >= n - 4 {
            let b = bytes[i]
            if b & 0xC0 != 0x80 {
                let need = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 1
                return n - i < need ? i : n
            }
            i -= 1
        }
        return n
    }
}
