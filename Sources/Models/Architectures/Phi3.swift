import GGUF

/// Phi-3, Phi-3.5, Phi-4 and Phi-4-mini: fused QKV and gate-up tensors (split at load), NeoX RoPE over
/// all or (Phi-4-mini) the first part of each head, queries scaled before attention. Long-context
/// files carry LongRoPE: per-pair frequency divisors, a short set for sequences within the original
/// context and a long set beyond it, and an attention factor on every rotation.
enum Phi3: Architecture {
    static let names = ["phi3"]

    static func configure(_ c: inout ModelConfig, gguf: GGUFFile) throws {
        c.ropeNeox = true
        c.scalesQueries = true
        // The files name a sliding window that llama.cpp does not apply (nor do the models' own
        // long-context configurations): every layer attends to the whole sequence.
        c.slidingWindow = nil
        if gguf.tensor(named: "rope_factors_long.weight") != nil {
            let original = try gguf.integer(c.architecture + ".rope.scaling.original_context_length") ?? c.trainedContext
            c.ropeFactorsTensor = c.sequenceLength > original ? "rope_factors_long.weight" : "rope_factors_short.weight"
        }
    }
}
