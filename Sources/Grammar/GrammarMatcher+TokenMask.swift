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
        if stacks.allSatisfy(isOpenString) {
            mask.assign(vocabulary.stringText)
            walk(vocabulary.notStringText, node: 0, states: 0..<buffer.count, buffer: &buffer, mask: &mask)
        } else {
            mask.removeAll()
            walk(vocabulary.all, node: 0, states: 0..<buffer.count, buffer: &buffer, mask: &mask)
        }
        arena.removeLast(arena.count - arenaMark)
        swap(&buffer, &walkStacks)
        if canEnd { for id in vocabulary.endOfGeneration { mask.insert(id) } }
    }

    /// Inside a string without a length limit, between characters.
    private func isOpenString(_ top: Int32) -> Bool {
        guard top >= 0 else { return false }
        let f = arena[Int(top)].frame
        guard case .string(_, nil) = grammar[f.node] else { return false }
        return f.phase == StringPhase.body && f.pending == 0
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
