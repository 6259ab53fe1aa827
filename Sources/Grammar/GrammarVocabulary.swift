/// A model's vocabulary prepared for grammars, once per model: every token's bytes in a trie, and
/// apart the tokens that are plain text inside a JSON string (printable ASCII other than `"` and
/// `\`, whole UTF-8 characters), which an open string takes without looking at them one by one.
public final class GrammarVocabulary: Sendable {
    /// Each token's bytes (empty for control tokens, which grammars never allow).
    public let pieces: [[UInt8]]
    /// Tokens that end a generation: allowed exactly where the grammar may end.
    public let endOfGeneration: [Int32]
    let all: TokenTrie
    let stringText: TokenMask
    /// Every other token with bytes, for the walk inside an open string.
    let notStringText: TokenTrie

    public init(pieces: [[UInt8]], endOfGeneration: [Int32]) {
        self.pieces = pieces
        self.endOfGeneration = endOfGeneration
        let ids = pieces.indices.filter { !pieces[$0].isEmpty }.map { Int32($0) }
        all = TokenTrie(pieces: pieces, selected: ids)
        let (text, other) = ids.reduce(into: ([Int32](), [Int32]())) { split, id in
            if Self.isStringText(pieces[Int(id)]) { split.0.append(id) } else { split.1.append(id) }
        }
        var textMask = TokenMask(count: pieces.count)
        for id in text { textMask.insert(id) }
        stringText = textMask
        notStringText = TokenTrie(pieces: pieces, selected: other)
    }

    public var count: Int { pieces.count }

    /// Whether the bytes are whole characters that a JSON string holds as they are.
    static func isStringText(_ bytes: [UInt8]) -> Bool {
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let length: Int
            switch b {
            case 0x20..<0x80: length = b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") ? 0 : 1
            case 0xC2...0xDF: length = 2
            case 0xE0...0xEF: length = 3
            case 0xF0...0xF4: length = 4
            default: length = 0
            }
            guard length > 0, i + length <= bytes.count else { return false }
            for c in bytes[(i + 1)..<(i + length)] where c & 0xC0 != 0x80 { return false }
            i += length
        }
        return true
    }
}
