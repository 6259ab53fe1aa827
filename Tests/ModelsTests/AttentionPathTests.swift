import GGUF
import Testing
@testable import Models

/// Long prompt batches go through tiled attention in float, short batches and single tokens row by
/// row with llama.cpp's half-precision accumulator: all must give the same logits at every position
/// (to that accumulator's rounding), across tiles and blocks, after a cached prefix, and with a
/// sliding window.
@Suite struct AttentionPathTests {
    /// The tiny llama of ModelLoadingErrorTests as a Gemma 3 file with a 3-position sliding window.
    static func tinyGemma() -> GGUFWriter {
        var w = ModelLoadingErrorTests.tinyLlama(architecture: "gemma3")
        w.set("gemma3.attention.sliding_window", .uint32(3))
        for l in 0..<2 {
            let p = "blk.\(l)."
            for (name, count) in [("attn_q_norm.weight", 16), ("attn_k_norm.weight", 16), ("post_attention_norm.weight", 32), ("post_ffw_norm.weight", 32)] {
                w.addTensor(p + name, dimensions: [count], floats: (0..<count).map { Float($0 % 5) / 10 })
            }
        }
        return w
    }

    func compareBatchWithSteps(_ writer: GGUFWriter, prefix: [Int32], batch: [Int32]) throws {
        let model = try Transformer(gguf: GGUFFile(data: writer.bytes()), vocabularySize: 8, threads: 2, batchCapacity: 64)
        let context = prefix.count + batch.count
        let batched = model.makeCache(contextLength: context)
        if !prefix.isEmpty { _ = model.forward(prefix, cache: batched) }
        let all = model.forward(batch, cache: batched, logits: .all)
        // The same prefix in both caches, so that only the batch's path differs from the steps'.
        let stepped = model.makeCache(contextLength: context)
        if !prefix.isEmpty { _ = model.forward(prefix, cache: stepped) }
        for (i, t) in batch.enumerated() {
            let one = model.forward([t], cache: stepped)
            // Relative to the largest logit: the row path's half-precision sums differ from the tiled
            // path's float sums by about 2^-11 per value added, a wrong mask or position by far more.
            let scale = one.map { abs($0) }.max() ?? 1
            let diff = zip(one, all[(i * 8)..<(i * 8 + 8)]).map { abs($0 - $1) }.max() ?? .infinity
            #expect(diff <= 5e-3 * scale, "position \(prefix.count + i): batch and step differ by \(diff) (largest logit \(scale))")
        }
    }

    let tokens: [Int32] = (0..<70).map { Int32($0 * 5 % 8) }

    @Test func llamaBatchMatchesStepsAcrossTilesAndBlocks() throws {
        try compareBatchWithSteps(ModelLoadingErrorTests.tinyLlama(), prefix: [], batch: Array(tokens.prefix(11)))
        try compareBatchWithSteps(ModelLoadingErrorTests.tinyLlama(), prefix: Array(tokens.prefix(5)), batch: Array(tokens[5..<70]))
    }

    @Test(arguments: [1, 2]) func generatedTokensDeepInAConversationTakeTilesAndMatch(kvHeads: Int) throws {
        // Past `exactRoundingSpan` single tokens go through the tiles too, their positions split
        // among the threads in parts (several per KV head) whose partial results are merged.
        #expect(Transformer.positionSplits(units: kvHeads, positions: Transformer.exactRoundingSpan, threads: 2) > 1)
        let long = (0..<(Transformer.exactRoundingSpan + 40)).map { Int32($0 * 3 % 8) }
        try compareBatchWithSteps(ModelLoadingErrorTests.tinyLlama(kvHeads: kvHeads), prefix: Array(long.prefix(Transformer.exactRoundingSpan)),
                                  batch: Array(long.suffix(40)))
    }

    @Test func slidingWindowBatchMatchesSteps() throws {
        try compareBatchWithSteps(Self.tinyGemma(), prefix: Array(tokens.prefix(2)), batch: Array(tokens[2..<13]))
        try compareBatchWithSteps(Self.tinyGemma(), prefix: Array(tokens.prefix(2)), batch: Array(tokens[2..<70]))
    }
}
