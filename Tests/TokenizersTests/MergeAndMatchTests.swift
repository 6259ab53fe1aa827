import TestSupport
import Testing
@testable import Tokenizers

@Suite struct MergeAndMatchTests {
    /// The textbook merge loop: repeatedly apply the best-ranked pair, leftmost among equals.
    func naiveMerge(_ initial: [Int32], _ pair: (Int32, Int32) -> (token: Int32, priority: Float)?) -> [Int32] {
        var s = initial
        while true {
            var best: (Int, Int32, Float)?
            for i in 0..<max(s.count - 1, 0) {
                if let m = pair(s[i], s[i + 1]), best == nil || m.priority < best!.2 { best = (i, m.token, m.priority) }
            }
            guard let (i, token, _) = best else { return s }
            s[i] = token
            s.remove(at: i + 1)
        }
    }

    @Test func heapMergeMatchesTheTextbookLoopOnRandomWords() {
        var rng = SplitMix(seed: 7)
        // Random merge table over a small alphabet; merged tokens get fresh ids.
        var table: [Int64: (Int32, Float)] = [:]
        var nextID: Int32 = 10
        for _ in 0..<400 {
            let l = Int32(rng.next() % UInt64(nextID)), r = Int32(rng.next() % UInt64(nextID))
            let key = Int64(l) << 32 | Int64(r)
            if table[key] == nil {
                table[key] = (nextID, Float(rng.next() % 50))  // many equal priorities exercise the tie-break
                nextID += 1
            }
        }
        let pair = { (l: Int32, r: Int32) -> (token: Int32, priority: Float)? in
            table[Int64(l) << 32 | Int64(r)].map { (token: $0.0, priority: $0.1) }
        }
        var merger = PairMerger()
        for _ in 0..<500 {
            let word = (0..<Int(rng.next() % 40)).map { _ in Int32(rng.next() % 10) }
            #expect(merger.merge(word, pair: pair) == naiveMerge(word, pair))
        }
    }

    /// llama.cpp's partition, written plainly: each token, longest first, splits every text fragment
    /// (a right-stripping token drops the spaces that start its right remainder).
    func naivePartition(_ text: [UInt8], _ tokens: [(id: Int32, bytes: [UInt8], alwaysMatched: Bool, stripsRight: Bool)],
                        parseSpecial: Bool) -> [SpecialTokenMatcher.Fragment] {
        var frags: [SpecialTokenMatcher.Fragment] = text.isEmpty ? [] : [.text(text[...])]
        let sorted = tokens.sorted { ($0.bytes.count, -$0.id) > ($1.bytes.count, -$1.id) }
        for t in sorted where parseSpecial || t.alwaysMatched {
            var out: [SpecialTokenMatcher.Fragment] = []
            for f in frags {
                guard case .text(let hay) = f else { out.append(f); continue }
                var start = hay.startIndex, i = hay.startIndex
                while i + t.bytes.count <= hay.endIndex {
                    if hay[i..<(i + t.bytes.count)].elementsEqual(t.bytes) {
                        if start < i { out.append(.text(hay[start..<i])) }
                        out.append(.token(t.id))
                        i += t.bytes.count
                        while t.stripsRight && i < hay.endIndex && hay[i] == 0x20 { i += 1 }
                        start = i
                    } else {
                        i += 1
                    }
                }
                if start < hay.endIndex { out.append(.text(hay[start..<hay.endIndex])) }
            }
            frags = out
        }
        return frags
    }

    @Test func trieMatcherMatchesThePlainAlgorithm() {
        var rng = SplitMix(seed: 3)
        for round in 0..<2000 {
            // Letters and spaces, some tokens dropping the spaces after them (tokens may hold spaces too).
            func byte() -> UInt8 { [97, 98, 99, 32][Int(rng.next() % 4)] }
            let tokens: [(id: Int32, bytes: [UInt8], alwaysMatched: Bool, stripsRight: Bool)] = (0..<Int(rng.next() % 8 + 1)).map { i in
                (Int32(i), (0..<Int(rng.next() % 4 + 1)).map { _ in byte() }, rng.next() % 2 == 0, rng.next() % 3 == 0)
            }
            var seen = Set<[UInt8]>()
            let unique = tokens.filter { seen.insert($0.bytes).inserted }
            let matcher = SpecialTokenMatcher(unique)
            let text = (0..<Int(rng.next() % 30)).map { _ in byte() }
            for parse in [false, true] {
                let got = matcher.partition(text, parseSpecial: parse)
                let want = naivePartition(text, unique, parseSpecial: parse)
                #expect(got.map(\.flattened) == want.map(\.flattened), "round \(round)")
            }
        }
    }

    @Test func streamingDetokenizerHoldsBackPartialCharacters() {
        #expect(StreamingDetokenizer.completePrefixLength(Array("ab".utf8)) == 2)
        #expect(StreamingDetokenizer.completePrefixLength([0x61, 0xE2, 0x96]) == 1)
        #expect(StreamingDetokenizer.completePrefixLength([0x61, 0xE2, 0x96, 0x81]) == 4)
        #expect(StreamingDetokenizer.completePrefixLength([0xF0, 0x9F, 0x91]) == 0)
        #expect(StreamingDetokenizer.completePrefixLength([0xF0, 0x9F, 0x91, 0x8D]) == 4)
        #expect(StreamingDetokenizer.completePrefixLength([0x80, 0x80]) == 2)  // stray continuation bytes are not held
    }
}

extension SpecialTokenMatcher.Fragment {
    var flattened: String {
        switch self {
        case .text(let t): return "T:" + String(decoding: t, as: UTF8.self)
        case .token(let id): return "#\(id)"
        }
    }
}
