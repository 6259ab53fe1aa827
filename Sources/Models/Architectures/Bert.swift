import GGUF

/// BERT-family text encoders for embeddings (`bert`: bge, all-MiniLM, e5; `nomic-bert`:
/// nomic-embed-text): attention over the whole sequence in both directions, LayerNorm with biases
/// after each sublayer's residual sum, the embeddings' own LayerNorm, token type 0 ("sentence A")
/// added to every token. BERT adds learned absolute positions and has an ungated GELU feed-forward;
/// nomic-bert rotates queries and keys (NeoX RoPE) and has a SwiGLU.
enum Bert: Architecture {
    static let names = ["bert", "nomic-bert"]

    static func configure(_ c: inout ModelConfig, gguf: GGUFFile) throws {
        let nomic = c.architecture == "nomic-bert"
        c.causal = try gguf.bool(c.architecture + ".attention.causal") ?? false
        guard !c.causal else { throw ModelError.unsupportedFeature("a causal '\(c.architecture)' encoder") }
        c.layerNorm = true
        c.residualNorms = true
        c.normEpsilon = try gguf.float(c.architecture + ".attention.layer_norm_epsilon") ?? 1e-12
        c.ropeNeox = true
        c.positionEmbeddings = !nomic
        if c.positionEmbeddings, c.sequenceLength > c.trainedContext {
            throw ModelError.unsupportedFeature("\(c.sequenceLength) positions where BERT's learned positions end at \(c.trainedContext)")
        }
        c.activation = nomic ? .swiglu : .gelu
        // Biases where the file has them (converted models differ), as llama.cpp takes them; nomic-bert's
        // feed-forward has none.
        func has(_ tensor: String) -> Bool { gguf.tensor(named: "blk.0." + tensor) != nil }
        c.qkvBias = has("attn_q.bias") || has("attn_qkv.bias")
        c.outputBias = has("attn_output.bias")
        c.feedForwardBiases = !nomic && has("ffn_up.bias")
    }
}
