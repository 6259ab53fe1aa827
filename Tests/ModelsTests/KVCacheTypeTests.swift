import GGUF
import Testing
import TestSupport
@testable import Models

/// The q8_0 KV cache: rows round-trip within half a quantization step, a model runs on it with logits
/// close to the f16 cache's, and batched steps still equal each sequence alone.
@Suite struct KVCacheTypeTests {
    @Test func q8RowsRoundTripWithinHalfAStep() {
        var rng = SplitMix(seed: 7)
        let x = (0..<128).map { _ in Float.random(in: -3...3, using: &rng) }
        var row = [UInt8](repeating: 0, count: KVCacheType.q8_0.rowBytes(128))
        var back = [Float](repeating: 0, count: 128)
        x.withUnsafeBufferPointer { KVCacheType.q8_0.store($0.baseAddress!, count: 128, into: &row) }
        var second = [Float](repeating: 0, count: 64)
        row.withUnsafeBytes { raw in
            KVCacheType.q8_0.widen(raw.baseAddress!, rowBytes: raw.count, rows: 1, d: 128, into: &back)
            // The second head of 64 values on its own.
            KVCacheType.q8_0.widen(raw.baseAddress! + KVCacheType.q8_0.headOffset(1, d: 64), rowBytes: raw.count, rows: 1, d: 64, into: &second)
        }
        #expect(Array(back[64...]) == second)
        for b in 0..<4 {
            let block = x[(b * 32)..<(b * 32 + 32)]
            let step = (block.map { abs($0) }.max() ?? 0) / 127
            // Half a step, plus the scale's own rounding to half precision.
            for i in block.indices { #expect(abs(back[i] - x[i]) <= step * 0.5 + abs(x[i]) * 1e-3, "value \(i)") }
        }
    }

    static func model() throws -> Transformer {
        try Transformer(gguf: GGUFFile(data: ModelLoadingErrorTests.tinyLlama(architecture: "mistral", headDim: 32).bytes()),
                        vocabularySize: 8, threads: 2, batchCapacity: 128)
    }

    @Test func aModelOnAQ8CacheStaysCloseToF16() throws {
        let model = try Self.model()
        let tokens = KVPagingTests.prompt(100)
        let f16 = model.forward(tokens, cache: model.makeCache(contextLength: 128))
        let q8Cache = model.makeCache(contextLength: 128, type: .q8_0)
        var q8 = model.forward(Array(tokens.prefix(90)), cache: q8Cache)
        for t in tokens[90...] { q8 = model.forward([t], cache: q8Cache) }
        let scale = f16.map { abs($0) }.max() ?? 1
        let diff = zip(f16, q8).map { abs($0 - $1) }.max() ?? .infinity
        #expect(diff <= 3e-2 * scale, "q8_0 and f16 logits differ by \(diff) (largest \(scale))")
        #expect(diff > 0, "the q8_0 cache is in use")
    }

    @Test func batchedStepsOnAQ8CacheEqualEachAlone() throws {
        let model = try Self.model()
        let pool = model.makePagePool(positions: 1024, type: .q8_0)
        var batch: [Transformer.SequenceChunk] = []
        var alone: [[Float]] = []
        for (i, (history, chunk)) in [(0, 30), (70, 1), (5, 1), (130, 20)].enumerated() {
            let all = BatchedStepTests.tokens(i, count: history + chunk)
            let cache = KVCache(pool: pool, capacity: 256), reference = model.makeCache(contextLength: 256, type: .q8_0)
            if history > 0 {
                _ = model.forward(Array(all[..<history]), cache: cache)
                _ = model.forward(Array(all[..<history]), cache: reference)
            }
            batch.append(.init(cache: cache, tokens: all[history...]))
            alone.append(model.forward(Array(all[history...]), cache: reference))
        }
        #expect(model.forward(batch: batch) == alone)
    }
}
