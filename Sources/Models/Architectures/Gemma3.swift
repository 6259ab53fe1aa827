import GGUF

/// Gemma 3: scaled embeddings, normalised query and key heads, norms after attention and the feed
/// forward, GeGLU, five sliding-window layers to one global, soft-capped logits.
enum Gemma3: Architecture {
    static let names = ["gemma3"]

    static func configure(_ c: inout ModelConfig, gguf: GGUFFile) throws {
        c.ropeNeox = true
        c.embeddingScale = Float(c.embeddingLength).squareRoot()
        c.qkNorm = true
        c.scalesQueries = true
        c.postNorms = true
        c.activation = .geglu
        // Five sliding-window layers, then one global layer; local layers use RoPE base 10000.
        c.slidingPattern = 6
        c.ropeBaseSliding = try gguf.float("gemma3.rope.freq_base_swa") ?? 10000
        c.finalLogitSoftcap = try gguf.float("gemma3.final_logit_softcapping") ?? 0
        // The 27B model (62 layers) scales attention by embedding / heads instead of the head size.
        if c.layers == 62 { c.attentionScale = 1 / Float(c.embeddingLength / c.heads).squareRoot() }
    }
}
