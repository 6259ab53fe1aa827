/// Tokens' byte strings in a trie, so that a grammar tries each shared beginning once and drops
/// every token below a byte it refuses. Nodes are stored depth-first: node `i`'s subtree is
/// `i..<end[i]`, its first child is `i + 1` and each child's next sibling starts where the child's
/// subtree ends. Node 0 is the root (the empty string).
public struct TokenTrie: Sendable {
    /// The byte leading into each node (the root's is unused).
    let bytes: [UInt8]
    let end: [Int32]
    /// The tokens that end at node `i`: `ids[tokenStart[i]..<tokenStart[i] + tokenCount[i]]`.
    let tokenStart: [Int32]
    let tokenCount: [Int32]
    let ids: [Int32]

    /// `pieces`: each token's bytes, indexed by id; the tokens in `selected` go in the trie.
    init(pieces: [[UInt8]], selected: [Int32]) {
        let sorted = selected.sorted { pieces[Int($0)].lexicographicallyPrecedes(pieces[Int($1)]) }
        var bytes: [UInt8] = [0], end: [Int32] = [0], tokenStart: [Int32] = [0], tokenCount: [Int32] = [0]
        // The nodes along the current token's bytes (path[0] is the root).
        var path: [Int32] = [0]
        var previous: [UInt8] = []
        for (index, id) in sorted.enumerated() {
            let piece = pieces[Int(id)]
            var common = 0
            while common < min(piece.count, previous.count) && piece[common] == previous[common] { common += 1 }
            // Close the nodes below the shared beginning: their subtrees end here.
            while path.count > common + 1 { end[Int(path.removeLast())] = Int32(bytes.count) }
            for byte in piece[common...] {
                path.append(Int32(bytes.count))
                bytes.append(byte)
                end.append(0)
                tokenStart.append(Int32(index))
                tokenCount.append(0)
            }
            let node = Int(path[path.count - 1])
            if tokenCount[node] == 0 { tokenStart[node] = Int32(index) }
            tokenCount[node] += 1
            previous = piece
        }
        for node in path { end[Int(node)] = Int32(bytes.count) }
        self.bytes = bytes
        self.end = end
        self.tokenStart = tokenStart
        self.tokenCount = tokenCount
        ids = sorted
    }

    var nodeCount: Int { bytes.count }

    /// The tokens whose bytes begin `bytes`, longest first.
    func tokens(beginning bytes: ArraySlice<UInt8>) -> [Int32] {
        var node: Int32 = 0, found: [Int32] = []
        for byte in bytes {
            var child = node + 1
            while child < end[Int(node)] && self.bytes[Int(child)] != byte { child = end[Int(child)] }
            guard child < end[Int(node)] else { break }
            node = child
            let first = Int(tokenStart[Int(node)])
            found += ids[first..<(first + Int(tokenCount[Int(node)]))]
        }
        return found.reversed()
    }
}
