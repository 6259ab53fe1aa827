/// Finds special tokens in raw text with llama.cpp's precedence: tokens are taken longest first,
/// each claiming its leftmost non-overlapping occurrences in the text that earlier (longer)
/// tokens left unclaimed. Implemented with one trie walk per position instead of one scan of the
/// whole text per special token, so vocabularies with thousands of user-defined tokens stay fast.
struct SpecialTokenMatcher: Sendable {
    struct Entry: Sendable {
        let id: Int32
        let length: Int
        /// User-defined tokens are matched even when special tokens are not parsed.
        let alwaysMatched: Bool
        /// The whitespace right after the token is dropped (Phi-3's special tokens).
        let stripsRight: Bool
    }

    /// In precedence order: longest first, then lowest id.
    let entries: [Entry]
    private var edges: [Int64: Int32] = [:]
    /// For each trie node, the entry index ending there, or -1.
    private var terminal: [Int32] = [-1]

    init(_ tokens: [(id: Int32, bytes: [UInt8], alwaysMatched: Bool, stripsRight: Bool)]) {
        let sorted = tokens.filter { !$0.bytes.isEmpty }.sorted { ($0.bytes.count, -$0.id) > ($1.bytes.count, -$1.id) }
        entries = sorted.map { Entry(id: $0.id, length: $0.bytes.count, alwaysMatched: $0.alwaysMatched, stripsRight: $0.stripsRight) }
        for (index, token) in sorted.enumerated() {
            var node: Int32 = 0
            for b in token.bytes {
                let key = Int64(node) << 8 | Int64(b)
                if let child = edges[key] {
                    node = child
                } else {
                    let child = Int32(terminal.count)
                    terminal.append(-1)
                    edges[key] = child
                    node = child
                }
            }
            if terminal[Int(node)] < 0 { terminal[Int(node)] = Int32(index) }
        }
    }

    enum Fragment: Equatable {
        case text(ArraySlice<UInt8>)
        case token(Int32)
    }

    func partition(_ bytes: [UInt8], parseSpecial: Bool) -> [Fragment] {
        guard !bytes.isEmpty else { return [] }
        // Every (entry, position) where an active special token occurs.
        var occurrences: [(entry: Int32, position: Int)] = []
        for start in bytes.indices {
            var node: Int32 = 0
            var i = start
            while i < bytes.count, let child = edges[Int64(node) << 8 | Int64(bytes[i])] {
                node = child
                i += 1
                let e = terminal[Int(node)]
                if e >= 0 && (parseSpecial || entries[Int(e)].alwaysMatched) {
                    occurrences.append((e, start))
                }
            }
        }
        guard !occurrences.isEmpty else { return [.text(bytes[...])] }
        occurrences.sort { ($0.entry, $0.position) < ($1.entry, $1.position) }

        // Each byte: the entry that claimed it, -1 (text) or `stripped` (whitespace a right-stripping
        // token dropped before any later token could claim it, as llama.cpp strips its right remainder).
        let stripped: Int32 = -2
        var claimedBy = [Int32](repeating: -1, count: bytes.count)
        var lastEntry: Int32 = -1
        var lastEnd = 0
        for (e, p) in occurrences {
            if e != lastEntry { lastEntry = e; lastEnd = 0 }
            let end = p + entries[Int(e)].length
            guard p >= lastEnd, !claimedBy[p..<end].contains(where: { $0 != -1 }) else { continue }
            for k in p..<end { claimedBy[k] = e }
            lastEnd = end
            guard entries[Int(e)].stripsRight else { continue }
            var k = end
            // C's isspace: space, \t, \n, \v, \f, \r.
            while k < bytes.count, claimedBy[k] == -1, bytes[k] == 0x20 || (0x09...0x0D).contains(bytes[k]) {
                claimedBy[k] = stripped
                k += 1
            }
            lastEnd = k
        }

        var fragments: [Fragment] = []
        var textStart = 0
        var i = 0
        while i < bytes.count {
            let e = claimedBy[i]
            if e == -1 { i += 1; continue }
            if textStart < i { fragments.append(.text(bytes[textStart..<i])) }
            if e == stripped {
                i += 1
            } else {
                fragments.append(.token(entries[Int(e)].id))
                i += entries[Int(e)].length
            }
            textStart = i
        }
        if textStart < bytes.count { fragments.append(.text(bytes[textStart...])) }
        return fragments
    }
}
