import GGUF
import Kernels
import Testing
@testable import Models

/// BERT encoders' own rules (their vectors are compared with llama.cpp's on `tiny-bert` and
/// `tiny-nomic-bert` in the integration tier).
@Suite struct BertTests {
    /// 2 layers, embedding 16, 2 heads of 8, feed-forward 32, vocabulary 8, 64 learned positions, the
    /// [CLS] (first) token's state as the embedding.
    static func tinyBert() -> GGUFWriter {
        var w = GGUFWriter()
        w.set("general.architecture", .string("bert"))
        w.set("bert.embedding_length", .uint32(16))
        w.set("bert.block_count", .uint32(2))
        w.set("bert.feed_forward_length", .uint32(32))
        w.set("bert.attention.head_count", .uint32(2))
        w.set("bert.context_length", .uint32(64))
        w.set("bert.attention.layer_norm_epsilon", .float32(1e-12))
        w.set("bert.pooling_type", .uint32(2))
        var salt = 0
        func values(_ count: Int, scale: Float = 1) -> [Float] {
            salt += 1
            return (0..<count).map { Float(($0 * 7 + salt * 5) % 13) / 13 * scale - 0.5 * scale }
        }
        func norm(_ name: String) {
            w.addTensor(name + ".weight", dimensions: [16], floats: values(16, scale: 0.2).map { $0 + 1 })
            w.addTensor(name + ".bias", dimensions: [16], floats: values(16, scale: 0.2))
        }
        w.addTensor("token_embd.weight", dimensions: [16, 8], floats: values(128))
        w.addTensor("token_types.weight", dimensions: [16, 2], floats: values(32))
        w.addTensor("position_embd.weight", dimensions: [16, 64], floats: values(1024))
        norm("token_embd_norm")
        for l in 0..<2 {
            let p = "blk.\(l)."
            for part in ["attn_q", "attn_k", "attn_v", "attn_output"] {
                w.addTensor(p + part + ".weight", dimensions: [16, 16], floats: values(256, scale: 2))
                w.addTensor(p + part + ".bias", dimensions: [16], floats: values(16, scale: 0.2))
            }
            norm(p + "attn_output_norm")
            w.addTensor(p + "ffn_up.weight", dimensions: [16, 32], floats: values(512))
            w.addTensor(p + "ffn_up.bias", dimensions: [32], floats: values(32, scale: 0.2))
            w.addTensor(p + "ffn_down.weight", dimensions: [32, 16], floats: values(512))
            w.addTensor(p + "ffn_down.bias", dimensions: [16], floats: values(16, scale: 0.2))
            norm(p + "layer_output_norm")
        }
        return w
    }

    static func model(_ w: GGUFWriter = tinyBert(), sequenceLength: Int? = nil) throws -> Transformer {
        try Transformer(gguf: GGUFFile(data: w.bytes()), vocabularySize: 8, sequenceLength: sequenceLength, threads: 1, batchCapacity: 16)
    }

    @Test func theFirstTokenSeesTheTokensAfterIt() throws {
        let model = try Self.model()
        #expect(!model.config.causal && model.config.pooling == .first)
        let cache = model.makeCache(contextLength: 64)
        let a = model.embedding([2, 3, 4, 5], cache: cache)
        cache.truncate(to: 0)
        let b = model.embedding([2, 3, 4, 6], cache: cache)
        // Pooled from the first token alone: only attention to the last token can change it.
        #expect(zip(a, b).map { abs($0 - $1) }.max()! > 1e-3)
        #expect(a.allSatisfy { $0.isFinite })
    }

    @Test func aSequenceIsOneStepWhateverTheStepSize() throws {
        // 40 tokens: more than the asked step of 16, and split in tiled rows and a tail in the step.
        let model = try Self.model()
        #expect(model.batchCapacity == 64)
        let tokens: [Int32] = (0..<40).map { Int32($0 * 5 % 8) }
        let vector = model.embedding(tokens, cache: model.makeCache(contextLength: 64))
        #expect(vector.count == 16 && vector.allSatisfy { $0.isFinite })
        #expect(abs(vector.reduce(0) { $0 + $1 * $1 } - 1) < 1e-4)
    }

    @Test func learnedPositionsBoundTheSequence() throws {
        #expect(throws: ModelError.self) { try Self.model(sequenceLength: 65) }
        var causal = Self.tinyBert()
        causal.set("bert.attention.causal", .bool(true))
        #expect(throws: ModelError.self) { try Self.model(causal) }
    }

    @Test func anEncoderIsEmbeddingOnly() throws {
        #expect(ArchitectureRegistry.isEmbeddingOnly("bert") && ArchitectureRegistry.isEmbeddingOnly("nomic-bert"))
        #expect(!ArchitectureRegistry.isEmbeddingOnly("qwen3"))
        #expect(try Self.model().weights.output == nil)
    }

    @Test func theMemoryEstimateHoldsAWholeSequenceOfAnEncoder() throws {
        let file = try GGUFFile(data: Self.tinyBert().bytes())
        let short = try MemoryEstimate(gguf: file, contextLength: 16, threads: 1, batch: 16)
        let whole = try MemoryEstimate(gguf: file, contextLength: 64, threads: 1, batch: 16)
        // 48 more rows in the one step, each with at least its x, h, q, k, v, attention, o, gate and up values.
        #expect(whole.scratchBytes - short.scratchBytes >= 48 * (7 * 16 + 2 * 32) * 4)
    }
}
