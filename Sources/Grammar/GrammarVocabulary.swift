/// A model's vocabulary prepared for grammars, once per model: every token's bytes in a trie, and
/// apart the tokens that are plain text inside a JSON string (printable ASCII other than `"` and
/// `\`, whole UTF-8 characters), which an open string takes without looking at them one by one
/// (those of more characters than a length limit leaves room for are taken out by their count).
public final class GrammarVocabulary: Sendable {
    /// Each token's bytes (empty for control tokens, which grammars never allow).
    public let pieces: [[UInt8]]
    /// Tokens that end a generation: allowed exactly where the grammar may end.
    public let endOfGeneration: [Int32]
    let all: TokenTrie
    let stringText: TokenMask
    /// The string-text tokens by their number of characters, fewest first: those of `n` characters
    /// or fewer are `textByLength[..<textLengthEnds[n]]` (for `n` below the longest's count).
    let textByLength: [Int32]
    let textLengthEnds: [Int]
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
        let byLength = text.map { (id: $0, characters: Self.characterCount(pieces[Int($0)])) }.sorted { $0.characters < $1.characters }
        textByLength = byLength.map(\.id)
        var ends = [Int](repeating: 0, count: (byLength.last?.characters ?? 0) + 1)
        for token in byLength { ends[token.characters] += 1 }
        for n in ends.indices.dropFirst() { ends[n] += ends[n - 1] }
        textLengthEnds = ends
        notStringText = TokenTrie(pieces: pieces, selected: other)
    }

    public var count: Int { pieces.count }

    /// The tokens whose bytes begin `bytes`, longest first.
    public func tokens(beginning bytes: ArraySlice<UInt8>) -> [Int32] { all.tokens(beginning: bytes) }

    /// How many tokens spell `bytes` when each is the longest that fits (a byte no token begins counts one).
    public func tokenCount(spelling bytes: [UInt8]) -> Int {
        var at = 0, count = 0
        while at < bytes.count {
            at += tokens(beginning: bytes[at...]).first.map { pieces[Int($0)].count } ?? 1
            count += 1
        }
        return count
    }

    /// The most characters a string-text token holds.
    var longestText: Int { textLengthEnds.count - 1 }

    /// Characters in bytes that are whole UTF-8 characters.
    static func characterCount(_ bytes: [UInt8]) -> Int { bytes.reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) } }

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
