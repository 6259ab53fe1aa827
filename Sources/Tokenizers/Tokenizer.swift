import GGUF

/// Text ⇄ token ids for a model, from its GGUF metadata alone, identical to llama.cpp's results.
public final class Tokenizer: Sendable {
    public let vocabulary: Vocabulary
    private let preTokenizer: PreTokenizer?
    /// Byte-level BPE: (left, right) → (merged token, rank).
    private let merges: [PairKey: (token: Int32, rank: Int32)]
    /// Token id of each byte: `<0xXX>` tokens (SentencePiece) or the byte-level character (BPE).
    private let byteTokens: [Int32?]
    private let specialTokens: SpecialTokenMatcher
    /// Each token's text as the bytes it stands for (what detokenizing produces).
    private let pieces: [[UInt8]]
    /// WordPiece: the normaliser and splitter, and the longest entry's byte length.
    private let wordPiece: WordPiece
    private let longestEntry: Int

    struct PairKey: Hashable {
        let left: Int32, right: Int32
    }

    public convenience init(gguf: GGUFFile) throws {
        let vocabulary = try Vocabulary(gguf: gguf)
        try self.init(vocabulary: vocabulary, merges: try gguf.stringArray("tokenizer.ggml.merges") ?? [])
    }

    public init(vocabulary v: Vocabulary, merges mergeLines: [String]) throws {
        vocabulary = v
        switch v.kind {
        case .bytePairs:
            guard let pre = PreTokenizer(name: v.preTokenizerName) else { throw TokenizerError.unsupportedPreTokenizer(v.preTokenizerName) }
            preTokenizer = pre
            var table: [PairKey: (Int32, Int32)] = [:]
            table.reserveCapacity(mergeLines.count)
            for (rank, line) in mergeLines.enumerated() {
                // "left right": split at the first space after the first character.
                let utf8 = Array(line.utf8)
                guard let space = utf8.dropFirst().firstIndex(of: 0x20) else { continue }
                let left = Array(utf8[..<space]), right = Array(utf8[(space + 1)...])
                guard let l = v.id(of: left), let r = v.id(of: right), let m = v.id(of: left + right) else { continue }
                let key = PairKey(left: l, right: r)
                if table[key] == nil { table[key] = (m, Int32(rank)) }
            }
            merges = table
            byteTokens = ByteLevel.encode.map { v.id(of: String(Unicode.Scalar($0)!)) }
        case .sentencePiece, .wordPiece:
            preTokenizer = nil
            merges = [:]
            byteTokens = (0..<256).map { b in
                v.id(of: "<0x" + String(b, radix: 16, uppercase: true).leftPadded(to: 2) + ">")
                    ?? v.id(of: [UInt8(b)])
            }
        }
        specialTokens = SpecialTokenMatcher(v.attributes.indices.compactMap { i in
            let a = v.attributes[i]
            guard !a.isDisjoint(with: [.control, .userDefined, .unknown]) else { return nil }
            return (Int32(i), v.tokenBytes[i], a.contains(.userDefined) && a.isDisjoint(with: [.control, .unknown]), a.contains(.stripsRight))
        })
        pieces = (0..<v.count).map { Self.piece(of: Int32($0), in: v) }
        wordPiece = WordPiece(lowercase: v.lowercase, stripAccents: v.stripAccents)
        longestEntry = v.kind == .wordPiece ? v.tokenBytes.reduce(0) { max($0, $1.count) } : 0
    }

    // MARK: - Encoding

    /// Token ids of `text`. `addSpecial` adds BOS/EOS as the model asks; `parseSpecial` lets control
    /// tokens written in the text (`<|im_start|>`) become those tokens, otherwise they are plain text.
    public func encode(_ text: String, addSpecial: Bool = false, parseSpecial: Bool = false) -> [Int32] {
        var out: [Int32] = []
        let v = vocabulary
        if addSpecial && v.addBOS, let bos = v.bos { out.append(bos) }
        var previousWasSpecial = true
        var merger = PairMerger()
        for fragment in specialTokens.partition(Array(text.utf8), parseSpecial: parseSpecial) {
            switch fragment {
            case .token(let id):
                out.append(id)
                previousWasSpecial = true
            case .text(let bytes):
                switch v.kind {
                case .bytePairs:
                    encodeBytePairs(bytes, into: &out, merger: &merger)
                case .sentencePiece:
                    let prefixed = (v.addSpacePrefix && previousWasSpecial ? [0x20] : []) + Array(bytes)
                    encodeSentencePiece(prefixed, into: &out, merger: &merger)
                case .wordPiece:
                    for word in wordPiece.words(Self.codepoints(bytes)) {
                        if let found = WordPiece.pieces(of: word, longestEntry: longestEntry, id: { v.id(of: $0) }) { out += found }
                        else if let unknown = v.unknown { out.append(unknown) }
                    }
                }
                previousWasSpecial = false
            }
        }
        if addSpecial && v.addEOS, let eos = v.eos { out.append(eos) }
        if addSpecial && v.kind == .wordPiece, let separator = v.separator { out.append(separator) }
        return out
    }

    private func encodeBytePairs(_ bytes: ArraySlice<UInt8>, into out: inout [Int32], merger: inout PairMerger) {
        let cps = Self.codepoints(bytes)
        let v = vocabulary
        for word in preTokenizer!.split(cps) {
            var wordBytes: [UInt8] = []
            for cp in cps[word] { Self.appendUTF8(cp, to: &wordBytes) }
            if v.ignoreMerges {
                var encoded: [UInt8] = []
                for b in wordBytes { Self.appendUTF8(ByteLevel.encode[Int(b)], to: &encoded) }
                if let id = v.id(of: encoded) {
                    out.append(id)
                    continue
                }
            }
            // Every byte-level vocabulary has a token for each byte; a missing one is skipped, as llama.cpp does.
            let initial = wordBytes.compactMap { byteTokens[Int($0)] }
            out += merger.merge(initial) { l, r in
                merges[PairKey(left: l, right: r)].map { ($0.token, Float($0.rank)) }
            }
        }
    }

    private func encodeSentencePiece(_ bytes: [UInt8], into out: inout [Int32], merger: inout PairMerger) {
        // Spaces become U+2581, then every character starts as its own symbol.
        var escaped: [UInt8] = []
        escaped.reserveCapacity(bytes.count)
        for b in bytes {
            if b == 0x20 { escaped += [0xE2, 0x96, 0x81] } else { escaped.append(b) }
        }
        let v = vocabulary
        var symbols: [Int32] = []
        var unknownChars: [Int: [UInt8]] = [:]  // characters with no token of their own, by symbol index
        var i = 0
        while i < escaped.count {
            let len = min(Self.utf8Length(escaped[i]), escaped.count - i)
            let char = Array(escaped[i..<(i + len)])
            if let id = v.id(of: char) {
                symbols.append(id)
            } else {
                unknownChars[symbols.count] = char
                symbols.append(-2 - Int32(unknownChars.count))
            }
            i += len
        }
        let merged = merger.merge(symbols) { l, r in
            guard l >= 0, r >= 0, let id = v.id(of: v.tokenBytes[Int(l)] + v.tokenBytes[Int(r)]) else { return nil }
            return (id, -v.scores[Int(id)])
        }
        // Characters that are not tokens become byte tokens.
        var unknownOrder = unknownChars.sorted { $0.key < $1.key }.map(\.value).makeIterator()
        for t in merged {
            if t >= 0 {
                out.append(t)
            } else if let char = unknownOrder.next() {
                for b in char { if let bt = byteTokens[Int(b)] { out.append(bt) } }
            }
        }
    }

    // MARK: - Decoding

    /// The bytes a token stands for. Control and unknown tokens give their text only when `special`.
    public func piece(_ id: Int32, special: Bool = true) -> [UInt8] {
        guard id >= 0, Int(id) < pieces.count else { return [] }
        if !special && !vocabulary.attributes[Int(id)].isDisjoint(with: [.control, .unknown]) { return [] }
        return pieces[Int(id)]
    }

    /// Concatenated pieces; invalid UTF-8 is repaired with U+FFFD.
    public func decode(_ ids: [Int32], special: Bool = true) -> String {
        var bytes: [UInt8] = []
        for id in ids { bytes += piece(id, special: special) }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func piece(of id: Int32, in v: Vocabulary) -> [UInt8] {
        let text = v.tokens[Int(id)]
        let attr = v.attributes[Int(id)]
        if !attr.isDisjoint(with: [.control, .unknown, .userDefined]) { return Array(text.utf8) }
        if attr.contains(.byte), text.hasPrefix("<0x"), text.count == 6, let b = UInt8(text.dropFirst(3).prefix(2), radix: 16) {
            return [b]
        }
        if attr.contains(.normal) {
            switch v.kind {
            case .bytePairs:
                return ByteLevel.bytes(of: text) ?? Array(text.utf8)
            case .sentencePiece, .wordPiece:
                var out: [UInt8] = []
                for s in text.unicodeScalars {
                    if s == "\u{2581}" { out.append(0x20) } else { appendUTF8(s.value, to: &out) }
                }
                return out
            }
        }
        return []
    }

    // MARK: - UTF-8 helpers

    static func utf8Length(_ lead: UInt8) -> Int {
        switch lead >> 4 {
        case 0xC, 0xD: return 2
        case 0xE: return 3
        case 0xF: return 4
        default: return 1
        }
    }

    /// Code points of (valid) UTF-8 bytes.
    static func codepoints(_ bytes: ArraySlice<UInt8>) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(bytes.count)
        for s in String(decoding: bytes, as: UTF8.self).unicodeScalars { out.append(s.value) }
        return out
    }

    static func appendUTF8(_ cp: UInt32, to out: inout [UInt8]) {
        switch cp {
        case 0..<0x80: out.append(UInt8(cp))
        case 0x80..<0x800: out += [UInt8(0xC0 | (cp >> 6)), UInt8(0x80 | (cp & 0x3F))]
        case 0x800..<0x10000: out += [UInt8(0xE0 | (cp >> 12)), UInt8(0x80 | ((cp >> 6) & 0x3F)), UInt8(0x80 | (cp & 0x3F))]
        default: out += [UInt8(0xF0 | (cp >> 18)), UInt8(0x80 | ((cp >> 12) & 0x3F)), UInt8(0x80 | ((cp >> 6) & 0x3F)), UInt8(0x80 | (cp & 0x3F))]
        }
    }
}

extension String {
    func leftPadded(to n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
