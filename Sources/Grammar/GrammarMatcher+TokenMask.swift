extension GrammarMatcher {
    /// The tokens that may come next: those whose bytes the grammar takes from here (each shared
    /// beginning tried once, along the vocabulary's trie), and the end-of-generation tokens where the
    /// grammar may end. Inside an open string, the tokens that are plain string text are allowed
    /// as a list and only the others are walked.
    public mutating func allowedTokens(_ vocabulary: GrammarVocabulary, into mask: inout TokenMask) {
        let arenaMark = arena.count
        // The walk's stacks, in memory kept from one call to the next.
        var buffer: [Int32] = []
        swap(&buffer, &walkStacks)
        buffer.removeAll(keepingCapacity: true)
        buffer += stacks
        if let room = openStringRoom() {
            stringText(vocabulary, within: room, into: &mask)
            walk(vocabulary.notStringText, node: 0, states: 0..<buffer.count, buffer: &buffer, mask: &mask)
        } else {
            mask.removeAll()
            walk(vocabulary.all, node: 0, states: 0..<buffer.count, buffer: &buffer, mask: &mask)
        }
        arena.removeLast(arena.count - arenaMark)
        swap(&buffer, &walkStacks)
        if canEnd { for id in vocabulary.endOfGeneration { mask.insert(id) } }
    }

    /// When every stack is inside a string between characters: the most characters one of them still
    /// takes (any string text of that many characters or fewer is allowed, whatever else follows).
    private func openStringRoom() -> Int? {
        guard !stacks.isEmpty else { return nil }
        var room = 0
        for top in stacks {
            guard top >= 0 else { return nil }
            let f = arena[Int(top)].frame
            guard case .string(_, let maxLength) = grammar[f.node], f.phase == StringPhase.body, f.pending == 0 else { return nil }
            room = max(room, maxLength.map { $0 - Int(f.count) } ?? .max)
        }
        return room
    }

    /// The string-text tokens of `room` characters or fewer: by inserting those or removing the
    /// others, whichever are fewer.
    private func stringText(_ vocabulary: GrammarVocabulary, within room: Int, into mask: inout TokenMask) {
        guard room < vocabulary.longestText else { return mask.assign(vocabulary.stringText) }
        let fitting = vocabulary.textByLength[..<vocabulary.textLengthEnds[max(room, 0)]]
        if fitting.count <= vocabulary.textByLength.count / 2 {
            mask.removeAll()
            for id in fitting { mask.insert(id) }
        } else {
            mask.assign(vocabulary.stringText)
            for id in vocabulary.textByLength[fitting.count...] { mask.remove(id) }
        }
    }

    /// Tries each child of `node` on the stacks `buffer[states]`; a child some stack takes allows
    /// its tokens and is walked in turn. Everything a child's subtree added is dropped after it.
    private mutating func walk(_ trie: TokenTrie, node: Int32, states: Range<Int>, buffer: inout [Int32], mask: inout TokenMask) {
        let end = trie.end[Int(node)]
        var child = node + 1
        while child < end {
            let byte = trie.bytes[Int(child)]
            let mark = buffer.count, arenaMark = arena.count
            for s in states {
                let top = buffer[s]
                feed(top, byte, into: &buffer)
            }
            if buffer.count > mark {
                let first = Int(trie.tokenStart[Int(child)])
                for i in first..<(first + Int(trie.tokenCount[Int(child)])) { mask.insert(trie.ids[i]) }
                if trie.end[Int(child)] > child + 1 { walk(trie, node: child, states: mark..<buffer.count, buffer: &buffer, mask: &mask) }
                buffer.removeLast(buffer.count - mark)
            }
            arena.removeLast(arena.count - arenaMark)
            child = trie.end[Int(child)]
        }
    }
}
