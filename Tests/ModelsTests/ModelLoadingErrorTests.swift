import GGUF
import Testing
@testable import Models

/// Files that cannot be run must be refused with a clear error, never a crash.
@Suite struct ModelLoadingErrorTests {
    /// A tiny but complete llama-style file: 2 layers, embedding 32, 2 heads of 16, vocabulary 8.
    /// `headDim`: an explicit `attention.key_length` (Mistral Nemo style) different from embedding / heads.
    /// With `experts`, a mixture of experts replaces each layer's feed-forward: every expert has the
    /// dense feed-forward's values (`identicalExperts`), or values of its own.
    static func tinyLlama(architecture: String = "llama", skip: String? = nil, wrongShape: String? = nil, headDim: Int? = nil,
                          kvHeads: Int = 1, experts: (count: Int, used: Int)? = nil, identicalExperts: Bool = false) -> GGUFWriter {
        var w = GGUFWriter()
        w.set("general.architecture", .string(architecture))
        w.set("\(architecture).embedding_length", .uint32(32))
        w.set("\(architecture).block_count", .uint32(2))
        w.set("\(architecture).feed_forward_length", .uint32(64))
        w.set("\(architecture).attention.head_count", .uint32(2))
        w.set("\(architecture).attention.head_count_kv", .uint32(UInt32(kvHeads)))
        if let headDim { w.set("\(architecture).attention.key_length", .uint32(UInt32(headDim))) }
        let head = headDim ?? 16
        func tensor(_ name: String, _ dims: [Int]) {
            guard name != skip else { return }
            let shape = name == wrongShape ? dims.map { $0 * 2 } : dims
            w.addTensor(name, dimensions: shape, floats: (0..<shape.reduce(1, *)).map { Float($0 % 7) / 7 - 0.5 })
        }
        tensor("token_embd.weight", [32, 8])
        tensor("output_norm.weight", [32])
        for l in 0..<2 {
            let p = "blk.\(l)."
            tensor(p + "attn_norm.weight", [32])
            tensor(p + "attn_q.weight", [32, 2 * head])
            tensor(p + "attn_k.weight", [32, kvHeads * head])
            tensor(p + "attn_v.weight", [32, kvHeads * head])
            tensor(p + "attn_output.weight", [2 * head, 32])
            tensor(p + "ffn_norm.weight", [32])
            guard let experts else {
                tensor(p + "ffn_gate.weight", [32, 64])
                tensor(p + "ffn_up.weight", [32, 64])
                tensor(p + "ffn_down.weight", [64, 32])
                continue
            }
            w.addTensor(p + "ffn_gate_inp.weight", dimensions: [32, experts.count], floats: (0..<(32 * experts.count)).map { Float($0 * 5 % 11) / 11 - 0.5 })
            for name in ["ffn_gate_exps.weight", "ffn_up_exps.weight", "ffn_down_exps.weight"] {
                let dims = name.hasPrefix("ffn_down") ? [64, 32] : [32, 64]
                var floats: [Float] = []
                for e in 0..<experts.count {
                    let shift = identicalExperts ? 0 : 3 * e, gain: Float = identicalExperts ? 1 : 1 + 0.25 * Float(e)
                    for i in 0..<(32 * 64) { floats.append((Float((i + shift) % 7) / 7 - 0.5) * gain) }
                }
                w.addTensor(p + name, dimensions: dims + [experts.count], floats: floats)
            }
        }
        if let experts {
            w.set("\(architecture).expert_count", .uint32(UInt32(experts.count)))
            w.set("\(architecture).expert_used_count", .uint32(UInt32(experts.used)))
            w.set("\(architecture).expert_feed_forward_length", .uint32(64))
        }
        return w
    }

    static func load(_ w: GGUFWriter) throws -> Transformer {
        try Transformer(gguf: GGUFFile(data: w.bytes()), vocabularySize: 8, threads: 1, batchCapacity: 8)
    }

    @Test func aCompleteTinyModelRuns() throws {
        let model = try Self.load(Self.tinyLlama())
        let cache = model.makeCache(contextLength: 16)
        let logits = model.forward([1, 2, 3], cache: cache)
        #expect(logits.count == 8)
        let finite = logits.allSatisfy { $0.isFinite }
        #expect(finite)
        #expect(cache.count == 3)
        // The same tokens one at a time give the same last logits as one batch.
        let other = model.makeCache(contextLength: 16)
        var last: [Float] = []
        for t: Int32 in [1, 2, 3] { last = model.forward([t], cache: other) }
        let maxDiff = zip(logits, last).map { abs($0 - $1) }.max() ?? .infinity
        #expect(maxDiff < 1e-4)
    }

    @Test func explicitHeadSizeDifferentFromEmbeddingOverHeads() throws {
        let model = try Self.load(Self.tinyLlama(architecture: "mistral", headDim: 32))
        #expect(model.config.headDim == 32)
        let logits = model.forward([4, 5], cache: model.makeCache(contextLength: 8))
        #expect(logits.count == 8 && logits.allSatisfy { $0.isFinite })
    }

    @Test func unsupportedArchitecture() throws {
        #expect(throws: ModelError.unsupportedArchitecture("mamba")) { try Self.load(Self.tinyLlama(architecture: "mamba")) }
        // The error and `wick info` name what runs, from the registry.
        let refusal = try #require(ArchitectureRegistry.refusal(of: GGUFFile(data: Self.tinyLlama(architecture: "mamba").bytes())))
        #expect(refusal.contains("'mamba'") && refusal.contains("llama, mistral, qwen2, qwen3, qwen3moe, gemma3"))
        #expect(ArchitectureRegistry.refusal(of: try GGUFFile(data: Self.tinyLlama().bytes())) == nil)
    }

    @Test func qwen3NormalisesQueryAndKeyHeads() throws {
        var w = Self.tinyLlama(architecture: "qwen3", headDim: 32)
        #expect(throws: ModelError.missingTensor("blk.0.attn_q_norm.weight")) { try Self.load(w) }
        for l in 0..<2 {
            for name in ["attn_q_norm", "attn_k_norm"] { w.addTensor("blk.\(l).\(name).weight", dimensions: [32], floats: [Float](repeating: 1.5, count: 32)) }
        }
        let model = try Self.load(w)
        #expect(model.config.qkNorm && model.config.ropeNeox && !model.config.qkvBias && model.config.headDim == 32)
        let logits = model.forward([4, 5], cache: model.makeCache(contextLength: 8))
        #expect(logits.count == 8 && logits.allSatisfy { $0.isFinite })
    }

    @Test func ropeScalingAndExpertsThatAreNotImplementedAreRefused() throws {
        var longrope = Self.tinyLlama()
        longrope.set("llama.rope.scaling.type", .string("longrope"))
        #expect(throws: ModelError.unsupportedFeature("rope scaling 'longrope'")) { try Self.load(longrope) }
        var beta = Self.tinyLlama()
        beta.set("llama.rope.scaling.type", .string("yarn"))
        beta.set("llama.rope.scaling.yarn_beta_fast", .float32(64))
        #expect(throws: ModelError.unsupportedFeature("YaRN's 'yarn_beta_fast' = 64.0")) { try Self.load(beta) }
        var partial = Self.tinyLlama()
        partial.set("llama.rope.dimension_count", .uint32(8))
        #expect(throws: ModelError.unsupportedFeature("RoPE over 8 of the head's 16 dimensions")) { try Self.load(partial) }
        // Frequency factors are Llama's (3.1 and later); another architecture's file with them is refused.
        var factors = Self.tinyLlama(architecture: "qwen2")
        factors.addTensor("rope_freqs.weight", dimensions: [8], floats: [Float](repeating: 1, count: 8))
        #expect(throws: ModelError.unsupportedFeature("per-dimension rope frequency factors (tensor 'rope_freqs.weight') in a 'qwen2' file")) {
            try Self.load(factors)
        }
        var experts = Self.tinyLlama()
        experts.set("llama.expert_count", .uint32(8))
        #expect(throws: ModelError.unsupportedFeature("a mixture of 8 experts")) { try Self.load(experts) }
        // Linear scaling is implemented.
        var linear = Self.tinyLlama()
        linear.set("llama.rope.scaling.type", .string("linear"))
        linear.set("llama.rope.scaling.factor", .float32(2))
        #expect(try Self.load(linear).config.ropeScale == 0.5)
    }

    @Test func llamaFrequencyFactorsDivideTheRopeAngles() throws {
        func logits(_ factors: [Float]?) throws -> [Float] {
            var w = Self.tinyLlama()
            if let factors { w.addTensor("rope_freqs.weight", dimensions: [8], floats: factors) }
            let model = try Self.load(w)
            #expect(model.config.ropeFactorsTensor == (factors != nil ? "rope_freqs.weight" : nil))
            return model.forward([1, 2, 3, 4, 5], cache: model.makeCache(contextLength: 8))
        }
        let plain = try logits(nil)
        #expect(try logits([Float](repeating: 1, count: 8)) == plain)
        let scaled = try logits((0..<8).map { Float(1 + $0) })
        #expect(zip(scaled, plain).map { abs($0 - $1) }.max()! > 1e-3)
        var short = Self.tinyLlama()
        short.addTensor("rope_freqs.weight", dimensions: [4], floats: [1, 1, 1, 1])
        #expect(throws: ModelError.self) { try Self.load(short) }
    }

    @Test func yarnScalesTheAngles() throws {
        func logits(_ type: String?) throws -> [Float] {
            var w = Self.tinyLlama()
            if let type {
                w.set("llama.rope.scaling.type", .string(type))
                w.set("llama.rope.scaling.factor", .float32(4))
                w.set("llama.rope.scaling.original_context_length", .uint32(64))
            }
            let model = try Self.load(w)
            #expect(model.config.yarnOriginalContext == (type == "yarn" ? 64 : nil))
            return model.forward([1, 2, 3, 4, 5, 6], cache: model.makeCache(contextLength: 8))
        }
        let plain = try logits(nil), linear = try logits("linear"), yarn = try logits("yarn")
        #expect(zip(yarn, plain).map { abs($0 - $1) }.max()! > 1e-3)
        #expect(zip(yarn, linear).map { abs($0 - $1) }.max()! > 1e-3)
    }

    @Test func missingTensor() {
        #expect(throws: ModelError.missingTensor("blk.1.ffn_up.weight")) { try Self.load(Self.tinyLlama(skip: "blk.1.ffn_up.weight")) }
    }

    @Test func shapeThatDoesNotMatch() {
        #expect(throws: ModelError.self) { try Self.load(Self.tinyLlama(wrongShape: "blk.0.attn_k.weight")) }
    }

    @Test func missingHyperParameter() {
        var w = Self.tinyLlama()
        w.set("llama.block_count", .string("two"))
        #expect(throws: GGUFError.self) { try Self.load(w) }
    }
}
