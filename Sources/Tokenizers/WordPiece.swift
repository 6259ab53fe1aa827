import Foundation

/// BERT's WordPiece as llama.cpp runs it on GGUF vocabularies (whose word-start pieces carry a leading
/// U+2581 and whose continuation pieces have lost their "##"): text normalised and split into words,
/// then each word taken as the longest vocabulary entries from its start; a word with a part no
/// entry covers is one unknown token.
struct WordPiece: Sendable {
    /// Lowercase every character; take accents off (first code point of its canonical decomposition,
    /// combining marks dropped).
    let lowercase: Bool
    let stripAccents: Bool

    /// The words of `text`: split at white space; punctuation, ASCII symbols and CJK ideographs are
    /// words of their own; control characters, NUL and U+FFFD are dropped.
    func words(_ text: [UInt32]) -> [[UInt8]] {
        var words: [[UInt8]] = []
        var word: [UInt8] = []
        func finish() {
            if !word.isEmpty { words.append(word) }
            word = []
        }
        for original in text {
            let cp = stripAccents ? Self.decomposedBase(original) : original
            guard let scalar = Unicode.Scalar(cp) else { continue }
            if scalar.properties.isWhitespace { finish(); continue }
            let category = scalar.properties.generalCategory
            if cp == 0 || cp == 0xFFFD || Self.isControl(category) { continue }
            if stripAccents && Self.isMark(category) { continue }
            var bytes: [UInt8] = []
            Tokenizer.appendUTF8(lowercase ? Self.lowercased(scalar) : cp, to: &bytes)
            if Self.isPunctuation(category) || (cp < 0x7F && Self.isSymbol(category)) || Self.isCJK(cp) {
                finish()
                words.append(bytes)
            } else {
                word += bytes
            }
        }
        finish()
        return words
    }

    /// `word`'s tokens: the longest entries from its start (after the word-start mark), or nil when
    /// some part has none.
    static func pieces(of word: [UInt8], longestEntry: Int, id: ([UInt8]) -> Int32?) -> [Int32]? {
        let marked = [0xE2, 0x96, 0x81] + word
        var out: [Int32] = []
        var i = 0
        while i < marked.count {
            var found: (token: Int32, end: Int)?
            for j in stride(from: min(marked.count, i + longestEntry), to: i, by: -1) {
                if let token = id(Array(marked[i..<j])) { found = (token, j); break }
            }
            guard let found else { return nil }
            out.append(found.token)
            i = found.end
        }
        return out
    }

    private static func isControl(_ c: Unicode.GeneralCategory) -> Bool {
        c == .control || c == .format || c == .surrogate || c == .privateUse
    }

    private static func isMark(_ c: Unicode.GeneralCategory) -> Bool {
        c == .nonspacingMark || c == .spacingMark || c == .enclosingMark
    }

    private static func isPunctuation(_ c: Unicode.GeneralCategory) -> Bool {
        switch c {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation, .finalPunctuation,
             .otherPunctuation: true
        default: false
        }
    }

    private static func isSymbol(_ c: Unicode.GeneralCategory) -> Bool {
        c == .mathSymbol || c == .currencySymbol || c == .modifierSymbol || c == .otherSymbol
    }

    /// The CJK ideograph blocks BERT splits into single characters (as Hugging Face's code lists them).
    private static func isCJK(_ cp: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(cp) || (0x3400...0x4DBF).contains(cp) || (0x20000...0x2A6DF).contains(cp)
            || (0x2A700...0x2B73F).contains(cp) || (0x2B740...0x2B81F).contains(cp) || (0x2B920...0x2CEAF).contains(cp)
            || (0xF900...0xFAFF).contains(cp) || (0x2F800...0x2FA1F).contains(cp)
    }

    /// A one-code-point lowercase mapping (others, like İ's two code points, leave the character as it is).
    private static func lowercased(_ s: Unicode.Scalar) -> UInt32 {
        let mapped = s.properties.lowercaseMapping.unicodeScalars
        return mapped.count == 1 ? mapped.first!.value : s.value
    }

    /// The first code point of the character's canonical decomposition (é → e).
    private static func decomposedBase(_ cp: UInt32) -> UInt32 {
        guard cp >= 0xC0, let s = Unicode.Scalar(cp) else { return cp }
        return String(Character(s)).decomposedStringWithCanonicalMapping.unicodeScalars.first?.value ?? cp
    }
}
