import GGUF
import Testing
@testable import Models

/// One step over several sequences must give each the logits it gets when run alone: rows of
/// different sequences share the matrix products but never each other's keys and values.
@Suite struct BatchedStepTests {
    static func model(_ writer: GGUFWriter = ModelLoadingErrorTests.tinyLlama()) throws -> Transformer {
        try Transformer(gguf: GGUFFile(data: writer.bytes()), vocabularySize: 8, threads: 2, batchCapacity: 128)
    }

    /// Sequence i: its own tokens, a history of `history[i]` tokens already in its cache.
    static func tokens(_ i: Int, count: Int) -> [Int32] { (0..<count).map { Int32(($0 * (i + 3) + i) % 8) } }

    func expectClose(_ a: [Float], _ b: [Float], _ what: String) {
        let scale = max(b.map { abs($0) }.max() ?? 1, 1e-3)
        let diff = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
        #expect(a.count == b.count && diff <= 5e-3 * scale, "\(what): differ by \(diff)")
    }

    func check(_ writer: GGUFWriter, histories: [Int], chunks: [Int]) throws {
        let model = try Self.model(writer)
        let pool = model.makePagePool(positions: 8 * 256)
        var batch: [Transformer.SequenceChunk] = []
        var alone: [[Float]] = []
        for (i, (history, chunk)) in zip(histories, chunks).enumerated() {
            let all = Self.tokens(i, count: history + chunk)
            let cache = KVCache(pool: pool, capacity: 256)
            if history > 0 { _ = model.forward(Array(all[..<history]), cache: cache) }
            batch.append(.init(cache: cache, tokens: all[history...]))
            let reference = model.makeCache(contextLength: 256)
            if history > 0 { _ = model.forward(Array(all[..<history]), cache: reference) }
            alone.append(model.forward(Array(all[history...]), cache: reference))
        }
        let logits = model.forward(batch: batch)
        #expect(logits.count == histories.count)
        for i in alone.indices { expectClose(logits[i], alone[i], "sequence \(i) of \(histories.count)") }
        for (i, chunk) in batch.enumerated() { #expect(chunk.cache.count == histories[i] + chunks[i]) }
    }

    @Test(arguments: 1...8) func decodeStepOfManySequencesMatchesEachAlone(sequences: Int) throws {
        // Generation: one token each after histories of different lengths, across page boundaries.
        try check(ModelLoadingErrorTests.tinyLlama(), histories: (0..<sequences).map { 1 + $0 * 23 }, chunks: Array(repeating: 1, count: sequences))
    }

    @Test func prefillChunksBesideDecodingSequencesMatchEachAlone() throws {
        // A new prompt, a chunk of a long one after 70 positions, and two sequences generating.
        try check(ModelLoadingErrorTests.tinyLlama(), histories: [0, 70, 5, 130], chunks: [40, 50, 1, 1])
    }

    @Test func slidingWindowSequencesMatchEachAlone() throws {
        try check(AttentionPathTests.tinyGemma(), histories: [0, 66, 3], chunks: [20, 30, 1])
    }

    @Test func onlyChunksThatAskGetLogits() throws {
        let model = try Self.model()
        let pool = model.makePagePool(positions: 512)
        let a = KVCache(pool: pool, capacity: 256), b = KVCache(pool: pool, capacity: 256)
        let logits = model.forward(batch: [.init(cache: a, tokens: [1, 2, 3], wantsLogits: false), .init(cache: b, tokens: [4, 5])])
        #expect(logits.count == 1)
        let reference = model.makeCache(contextLength: 16)
        expectClose(logits[0], model.forward([4, 5], cache: reference), "the chunk that asked")
        #expect(a.tokens == [1, 2, 3] && b.tokens == [4, 5])
    }
}
