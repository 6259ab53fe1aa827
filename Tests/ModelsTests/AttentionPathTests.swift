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

    @Test(arguments: [1, 2]) func generatedTokensDeepInAConversationGoByKVHeadAndMatch(kvHeads: Int) throws {
        // Past `exactRoundingSpan` single tokens go with all the query heads of a KV head at once,
        // their positions split among the threads in parts whose partial results are merged.
        #expect(Transformer.positionSplits(units: 1, positions: Transformer.exactRoundingSpan, threads: 2) > 1)
        let long = (0..<(Transformer.exactRoundingSpan + 40)).map { Int32($0 * 3 % 8) }
        try compareBatchWithSteps(ModelLoadingErrorTests.tinyLlama(kvHeads: kvHeads), prefix: Array(long.prefix(Transformer.exactRoundingSpan)),
                                  batch: Array(long.suffix(40)))
    }

    @Test func slidingWindowBatchMatchesSteps() throws {
        try compareBatchWithSteps(Self.tinyGemma(), prefix: Array(tokens.prefix(2)), batch: Array(tokens[2..<13]))
        try compareBatchWithSteps(Self.tinyGemma(), prefix: Array(tokens.prefix(2)), batch: Array(tokens[2..<70]))
    }

    /// The tiny llama as a gpt-oss file: 2 of 4 experts with biases, biased attention, a sink per head
    /// (`sink` for all), a 3-position window on even layers.
    static func tinyGptOss(sink: Float = 0.5, kvHeads: Int = 1) -> GGUFWriter {
        var w = ModelLoadingErrorTests.tinyLlama(architecture: "gpt-oss", kvHeads: kvHeads, experts: (4, 2))
        w.set("gpt-oss.attention.sliding_window", .uint32(3))
        func vector(_ name: String, _ dims: [Int], _ scale: Float = 0.2) {
            let count = dims.reduce(1, *)
            w.addTensor(name, dimensions: dims, floats: (0..<count).map { Float($0 * 7 % 13) / 13 * scale - scale / 2 })
        }
        for l in 0..<2 {
            let p = "blk.\(l)."
            vector(p + "attn_q.bias", [32]); vector(p + "attn_k.bias", [kvHeads * 16]); vector(p + "attn_v.bias", [kvHeads * 16])
            vector(p + "attn_output.bias", [32])
            w.addTensor(p + "attn_sinks.weight", dimensions: [2], floats: [sink, sink - 1])
            w.addTensor(p + "post_attention_norm.weight", dimensions: [32], floats: (0..<32).map { 1 + Float($0 % 3) / 10 })
            vector(p + "ffn_gate_inp.bias", [4], 1)
            vector(p + "ffn_gate_exps.bias", [64, 4]); vector(p + "ffn_up_exps.bias", [64, 4]); vector(p + "ffn_down_exps.bias", [32, 4])
        }
        return w
    }

    @Test(arguments: [1, 2]) func gptOssBatchMatchesStepsWithSinks(kvHeads: Int) throws {
        try compareBatchWithSteps(Self.tinyGptOss(kvHeads: kvHeads), prefix: [], batch: Array(tokens.prefix(13)))
        try compareBatchWithSteps(Self.tinyGptOss(kvHeads: kvHeads), prefix: Array(tokens.prefix(3)), batch: Array(tokens[3..<70]))
        // Deep enough that single tokens go by KV head, their positions split in parts merged at the end.
        let long = (0..<(Transformer.exactRoundingSpan + 20)).map { Int32($0 * 3 % 8) }
        try compareBatchWithSteps(Self.tinyGptOss(kvHeads: kvHeads), prefix: Array(long.prefix(Transformer.exactRoundingSpan)),
                                  batch: Array(long.suffix(20)))
    }

    /// A sink far above every score takes the whole softmax: attention adds only its output bias, as
    /// it does when every value is zero — on the row path and on the tiles.
    @Test func aDominantSinkSilencesAttention() throws {
        var silent = Self.tinyGptOss(sink: 80)
        for l in 0..<2 {
            silent.addTensor("blk.\(l).attn_v.weight", dimensions: [32, 16], floats: [Float](repeating: 0, count: 32 * 16))
            silent.addTensor("blk.\(l).attn_v.bias", dimensions: [16], floats: [Float](repeating: 0, count: 16))
        }
        let sunk = try Transformer(gguf: GGUFFile(data: Self.tinyGptOss(sink: 80).bytes()), vocabularySize: 8, threads: 2, batchCapacity: 64)
        let zeroed = try Transformer(gguf: GGUFFile(data: silent.bytes()), vocabularySize: 8, threads: 2, batchCapacity: 64)
        for batch in [Array(tokens.prefix(3)), Array(tokens.prefix(40))] {
            let a = sunk.forward(batch, cache: sunk.makeCache(contextLength: 64), logits: .all)
            let b = zeroed.forward(batch, cache: zeroed.makeCache(contextLength: 64), logits: .all)
            let diff = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
            #expect(diff < 1e-4, "\(batch.count) tokens: \(diff)")
        }
        let normal = try Transformer(gguf: GGUFFile(data: Self.tinyGptOss().bytes()), vocabularySize: 8, threads: 2, batchCapacity: 64)
        let c = normal.forward(Array(tokens.prefix(3)), cache: normal.makeCache(contextLength: 64), logits: .all)
        let d = sunk.forward(Array(tokens.prefix(3)), cache: sunk.makeCache(contextLength: 64), logits: .all)
        #expect(zip(c, d).map { abs($0 - $1) }.max()! > 1e-2, "the sink changes something")
    }
}

