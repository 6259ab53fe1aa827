import GGUF
import Kernels
import Testing
@testable import Models

/// Phi-3's fused tensors, LongRoPE and partial RoPE (its outputs are compared with llama.cpp's on
/// `tiny-phi3` in the integration tier).
@Suite struct Phi3Tests {
    /// 2 layers, embedding 32, 2 query heads and 1 KV head of 16, feed-forward 64, vocabulary 8. With
    /// `fused`, Q, K and V are one `attn_qkv` and gate and up one `ffn_up` holding the same values.
    static func tinyPhi3(fused: Bool) -> GGUFWriter {
        var w = GGUFWriter()
        w.set("general.architecture", .string("phi3"))
        w.set("phi3.embedding_length", .uint32(32))
        w.set("phi3.block_count", .uint32(2))
        w.set("phi3.feed_forward_length", .uint32(64))
        w.set("phi3.attention.head_count", .uint32(2))
        w.set("phi3.attention.head_count_kv", .uint32(1))
        w.set("phi3.context_length", .uint32(64))
        func values(_ count: Int, _ salt: Int) -> [Float] { (0..<count).map { Float(($0 * 7 + salt) % 13) / 13 - 0.5 } }
        w.addTensor("token_embd.weight", dimensions: [32, 8], floats: values(256, 0))
        w.addTensor("output_norm.weight", dimensions: [32], floats: [Float](repeating: 1, count: 32))
        for l in 0..<2 {
            let p = "blk.\(l)."
            w.addTensor(p + "attn_norm.weight", dimensions: [32], floats: [Float](repeating: 1, count: 32))
            w.addTensor(p + "ffn_norm.weight", dimensions: [32], floats: [Float](repeating: 1, count: 32))
            let q = values(32 * 32, 1 + l), k = values(32 * 16, 2 + l), v = values(32 * 16, 3 + l)
            let gate = values(32 * 64, 4 + l), up = values(32 * 64, 5 + l)
            if fused {
                w.addTensor(p + "attn_qkv.weight", dimensions: [32, 64], floats: q + k + v)
                w.addTensor(p + "ffn_up.weight", dimensions: [32, 128], floats: gate + up)
            } else {
                w.addTensor(p + "attn_q.weight", dimensions: [32, 32], floats: q)
                w.addTensor(p + "attn_k.weight", dimensions: [32, 16], floats: k)
                w.addTensor(p + "attn_v.weight", dimensions: [32, 16], floats: v)
                w.addTensor(p + "ffn_gate.weight", dimensions: [32, 64], floats: gate)
                w.addTensor(p + "ffn_up.weight", dimensions: [32, 64], floats: up)
            }
            w.addTensor(p + "attn_output.weight", dimensions: [32, 32], floats: values(32 * 32, 6 + l))
            w.addTensor(p + "ffn_down.weight", dimensions: [64, 32], floats: values(64 * 32, 8 + l))
        }
        return w
    }

    static func logits(_ w: GGUFWriter, sequenceLength: Int? = nil) throws -> (model: Transformer, logits: [Float]) {
        let model = try Transformer(gguf: GGUFFile(data: w.bytes()), vocabularySize: 8, sequenceLength: sequenceLength, threads: 1, batchCapacity: 16)
        return (model, model.forward([1, 2, 3, 4, 5, 6, 7, 1, 2, 3], cache: model.makeCache(contextLength: 16)))
    }

    @Test func fusedTensorsAreSplitAtLoad() throws {
        let fused = try Self.logits(Self.tinyPhi3(fused: true)).logits
        #expect(fused == (try Self.logits(Self.tinyPhi3(fused: false)).logits))
        #expect(fused.allSatisfy { $0.isFinite })
    }

    @Test func theSlidingWindowPhiFilesNameIsNotApplied() throws {
        var w = Self.tinyPhi3(fused: true)
        w.set("phi3.attention.sliding_window", .uint32(2))
        let (model, windowed) = try Self.logits(w)
        #expect(model.config.slidingWindow == nil)
        #expect(windowed == (try Self.logits(Self.tinyPhi3(fused: true)).logits))
    }

    @Test func longRopeTakesTheLongFactorsPastTheOriginalContext() throws {
        var w = Self.tinyPhi3(fused: true)
        w.set("phi3.rope.scaling.original_context_length", .uint32(16))
        w.addTensor("rope_factors_short.weight", dimensions: [8], floats: [Float](repeating: 1, count: 8))
        w.addTensor("rope_factors_long.weight", dimensions: [8], floats: (0..<8).map { 1 + Float($0) })
        let plain = try Self.logits(Self.tinyPhi3(fused: true)).logits
        let (short, withinOriginal) = try Self.logits(w, sequenceLength: 16)
        #expect(short.config.ropeFactorsTensor == "rope_factors_short.weight")
        #expect(withinOriginal == plain)  // short factors of 1 leave the angles as they are
        let (long, beyond) = try Self.logits(w, sequenceLength: 17)
        #expect(long.config.ropeFactorsTensor == "rope_factors_long.weight")
        #expect(zip(beyond, plain).map { abs($0 - $1) }.max()! > 1e-3)
        // The attention factor multiplies every rotation.
        w.set("phi3.rope.scaling.attn_factor", .float32(1.2))
        let (scaled, magnified) = try Self.logits(w, sequenceLength: 16)
        #expect(scaled.config.ropeAttentionFactor == 1.2)
        #expect(zip(magnified, plain).map { abs($0 - $1) }.max()! > 1e-3)
        // Factors of the wrong length are refused.
        var wrong = Self.tinyPhi3(fused: true)
        wrong.addTensor("rope_factors_short.weight", dimensions: [4], floats: [1, 1, 1, 1])
        wrong.addTensor("rope_factors_long.weight", dimensions: [4], floats: [1, 1, 1, 1])
        #expect(throws: ModelError.self) { try Self.logits(wrong) }
    }

    @Test func partialRopeRotatesTheFirstDimensionsOnly() throws {
        var partial = Self.tinyPhi3(fused: true)
        partial.set("phi3.rope.dimension_count", .uint32(12))
        let (model, rotated) = try Self.logits(partial)
        #expect(model.config.ropeDimensions == 12)
        #expect(zip(rotated, try Self.logits(Self.tinyPhi3(fused: true)).logits).map { abs($0 - $1) }.max()! > 1e-3)
        var head: [Float] = (0..<16).map { Float($0) }
        head.withUnsafeMutableBufferPointer { VectorOps.rope($0.baseAddress!, headDim: 12, position: 5, base: 10000, neox: true) }
        #expect(Array(head[12...]) == [12, 13, 14, 15])
        #expect(head[0] != 0 || head[6] != 6)
        var odd = Self.tinyPhi3(fused: true)
        odd.set("phi3.rope.dimension_count", .uint32(18))
        #expect(throws: ModelError.badShape("RoPE over 18 dimensions of a head of 16")) { try Self.logits(odd) }
    }
}
