import GGUF
import Testing
@testable import Models

/// Pages of the KV cache: full pages are shared between sequences with the same beginning, a shared
/// page is copied before it is written, and unused registered pages stay cached until evicted.
@Suite struct KVPagingTests {
    let model: Transformer
    init() throws { model = try BatchedStepTests.model() }

    static func prompt(_ count: Int, seed: Int = 0) -> [Int32] { (0..<count).map { Int32(($0 * 5 + seed + $0 / 7) % 8) } }

    /// The logits after `tokens` computed from nothing on a private cache.
    func fresh(_ tokens: [Int32]) -> [Float] { model.forward(tokens, cache: model.makeCache(contextLength: 512)) }

    /// Equal to the rounding of the attention paths (a prefix computed apart takes another path).
    func expectSame(_ a: [Float], _ b: [Float]) {
        let scale = max(b.map { abs($0) }.max() ?? 1, 1e-3)
        let diff = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
        #expect(a.count == b.count && diff <= 5e-3 * scale, "differ by \(diff)")
    }

    @Test func fullPagesOfAPrefixAreSharedNotComputed() throws {
        let pool = model.makePagePool(positions: 64 * 8)
        let first = KVCache(pool: pool, capacity: 512)
        let system = Self.prompt(150)
        _ = model.forward(system, cache: first)
        #expect(pool.usage == .init(used: 3, cached: 0, free: 5))

        // A second conversation with the same 150-token beginning and its own question.
        let second = KVCache(pool: pool, capacity: 512)
        let prompt = system + [1, 2, 3]
        let reused = second.reuse(prompt, limit: prompt.count - 1)
        #expect(reused == 128, "the two full pages come from the index")
        #expect(pool.usage.used == 3, "no page was taken for the shared prefix")
        let logits = model.forward(Array(prompt[reused...]), cache: second)
        expectSame(logits, fresh(prompt))
        // The first sequence's own tail page is untouched by the second's writes.
        expectSame(model.forward([7], cache: first), fresh(system + [7]))
    }

    @Test func sequencesDivergingInsideAPageCopyOnWrite() throws {
        let pool = model.makePagePool(positions: 64 * 8)
        let a = KVCache(pool: pool, capacity: 512)
        let common = Self.prompt(100)
        let aTokens = common + Self.prompt(20, seed: 1)
        _ = model.forward(aTokens, cache: a)

        // b shares a's first 100 positions: page 0 by reference, page 1's first 36 rows copied.
        let b = KVCache(pool: pool, capacity: 512)
        #expect(b.share(a, length: 100) == 100)
        #expect(pool.usage.used == 3)
        let bTokens = common + Self.prompt(30, seed: 2)
        expectSame(model.forward(Array(bTokens[100...]), cache: b), fresh(bTokens))
        expectSame(model.forward([3], cache: a), fresh(aTokens + [3]))

        // Truncating back into a registered page and writing there copies it as well.
        let c = KVCache(pool: pool, capacity: 512)
        _ = model.forward(Array(aTokens.prefix(64)), cache: c)
        c.truncate(to: 40)
        let other = (aTokens[40] + 1) % 8
        expectSame(model.forward([other, 5, 5], cache: c), fresh(Array(aTokens.prefix(40)) + [other, 5, 5]))
        #expect(c.reuse(aTokens, limit: 200) == 40)
        let d = KVCache(pool: pool, capacity: 512)
        #expect(d.reuse(aTokens + [1], limit: 200) == 64, "a's registered first page kept its contents")
    }

    @Test func unusedPagesStayCachedUntilEvictedLeastRecentlyUsedFirst() throws {
        let pool = model.makePagePool(positions: 64 * 4)
        let old = Self.prompt(128, seed: 3), recent = Self.prompt(128, seed: 4)
        for tokens in [old, recent] {
            let cache = KVCache(pool: pool, capacity: 256)
            _ = model.forward(tokens, cache: cache)
        }
        #expect(pool.usage == .init(used: 0, cached: 4, free: 0))

        // A new sequence needs two pages: the least recently used (old's) go.
        var other: KVCache? = KVCache(pool: pool, capacity: 256)
        _ = model.forward(Self.prompt(100, seed: 5), cache: other!)
        #expect(pool.usage == .init(used: 2, cached: 2, free: 0))
        other = nil
        let probe = KVCache(pool: pool, capacity: 256)
        #expect(probe.reuse(old + [1], limit: 128) == 0)
        #expect(probe.reuse(recent + [1], limit: 128) == 128)
        expectSame(model.forward([1], cache: probe), fresh(recent + [1]))

        // With every page in use (other's cached page evicted), reserving fails rather than overwriting a sequence's keys.
        let full = KVCache(pool: pool, capacity: 256)
        #expect(full.reserve(64 * 2) == false)
    }

    @Test func releasingASequenceFreesItsUnregisteredPages() throws {
        let pool = model.makePagePool(positions: 64 * 4)
        var cache: KVCache? = KVCache(pool: pool, capacity: 256)
        _ = model.forward(Self.prompt(70), cache: cache!)
        #expect(pool.usage == .init(used: 2, cached: 0, free: 2))
        cache = nil
        #expect(pool.usage == .init(used: 0, cached: 1, free: 3), "the full page stays cached, the partial one is freed")
    }
}
