import GGUF

/// How each supported architecture differs from the shared decoder. One entry per architecture;
/// everything not set here is the plain Llama decoder.
enum Architectures {
    static func config(for gguf: GGUFFile, vocabularySize: Int) throws -> ModelConfig {
        var c = try ModelConfig(gguf: gguf, vocabularySize: vocabularySize)
        switch c.architecture {
        case "llama", "mistral":
            // Q and K were permuted at conversion for interleaved RoPE.
            c.ropeNeox = false
        case "qwen2":
            c.ropeNeox = true
            c.qkvBias = true
        case "gemma3":
            c.ropeNeox = true
            c.embeddingScale = Float(c.embeddingLength).squareRoot()
            c.qkNorm = true
            c.scalesQueries = true
            c.postNorms = true
            c.gelu = true
            // Five sliding-window layers, then one global layer; local layers use RoPE base 10000.
            c.slidingPattern = 6
            c.ropeBaseSliding = try gguf.float("gemma3.rope.freq_base_swa") ?? 10000
            c.finalLogitSoftcap = try gguf.float("gemma3.final_logit_softcapping") ?? 0
            // The 27B model (62 layers) scales attention by embedding / heads instead of the head size.
            if c.layers == 62 { c.attentionScale = 1 / Float(c.embeddingLength / c.heads).squareRoot() }
        default:
            throw ModelError.unsupportedArchitecture(c.architecture)
        }
        try refuseUnimplemented(gguf, architecture: c.architecture)
        return c
    }

    /// What a file may ask for that the decoder does not do: such a file is refused, never run
    /// approximately (its answers would look plausible and be wrong).
    static func refuseUnimplemented(_ gguf: GGUFFile, architecture a: String) throws {
        if let type = try gguf.string(a + ".rope.scaling.type"), type != "none" && type != "linear" {
            throw ModelError.unsupportedFeature("rope scaling '\(type)'")
        }
        if gguf.tensor(named: "rope_freqs.weight") != nil {
            throw ModelError.unsupportedFeature("per-dimension rope frequency factors (Llama 3.1-style rope scaling, tensor 'rope_freqs.weight')")
        }
        if let experts = try gguf.integer(a + ".expert_count"), experts > 0 {
            throw ModelError.unsupportedFeature("a mixture of \(experts) experts")
        }
    }
}
