/// The merge loop shared by byte-level BPE and SentencePiece: symbols in a linked list, candidate
/// pairs in a binary heap, always applying the best pair and, among equals, the leftmost one.
/// O(n log n) in the word length, so very long words stay fast.
struct PairMerger {
    struct Candidate {
        var priority: Float  // lower merges first
        var left: Int32
        var leftToken: Int32
        var rightToken: Int32
        var merged: Int32
    }

    private(set) var tokens: [Int32] = []
    private var next: [Int32] = []
    private var prev: [Int32] = []
    private var heap: [Candidate] = []

    /// Merges `initial` in place. `pair` returns the merged token and its priority, or nil.
    mutating func merge(_ initial: [Int32], pair: (Int32, Int32) -> (token: Int32, priority: Float)?) -> [Int32] {
        let n = initial.count
        guard n > 1 else { return initial }
        tokens = initial
        next = (0..<n).map { Int32($0 + 1) }
        next[n - 1] = -1
        prev = (0..<n).map { Int32($0 - 1) }
        heap.removeAll(keepingCapacity: true)

        func consider(_ l: Int32) {
            guard l >= 0 else { return }
            let r = next[Int(l)]
            guard r >= 0, let m = pair(tokens[Int(l)], tokens[Int(r)]) else { return }
            push(Candidate(priority: m.priority, left: l, leftToken: tokens[Int(l)], rightToken: tokens[Int(r)], merged: m.token))
        }
        for i in 0..<(n - 1) { consider(Int32(i)) }

        while let c = pop() {
            let l = Int(c.left)
            let r = Int(next[l])
            // Skip pairs that an earlier merge made stale.
            guard tokens[l] == c.leftToken, r >= 0, tokens[r] == c.rightToken, tokens[r] >= 0 else { continue }
            tokens[l] = c.merged
            tokens[r] = -1
            next[l] = next[r]
            if next[r] >= 0 { prev[Int(next[r])] = Int32(l) }
            consider(prev[l])
            consider(Int32(l))
        }
        var out: [Int32] = []
        var i: Int32 = 0
        while i >= 0 {
            out.append(tokens[Int(i)])
            i = next[Int(i)]
        }
        return out
    }

    @inline(__always) private static func before(_ a: Candidate, _ b: Candidate) -> Bool {
        a.priority < b.priority || (a.priority == b.priority && a.left < b.left)
    }

    private mutating func push(_ c: Candidate) {
        heap.append(c)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.before(heap[i], heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private mutating func pop() -> Candidate? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var best = i
                if l < heap.count && Self.before(heap[l], heap[best]) { best = l }
                if r < heap.count && Self.before(heap[r], heap[best]) { best = r }
                if best == i { break }
                heap.swapAt(i, best)
                i = best
            }
        }
        return top
    }
}
