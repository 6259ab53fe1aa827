import GGUF

/// Llama and Mistral-style files: the plain decoder; Llama 3.1 and later with per-pair RoPE
/// frequency factors.
enum Llama: Architecture {
    static let names = ["llama", "mistral"]

    static func configure(_ c: inout ModelConfig, gguf: GGUFFile) throws {
        // Q and K were permuted at conversion for interleaved RoPE.
        c.ropeNeox = false
        if gguf.tensor(named: "rope_freqs.weight") != nil { c.ropeFactorsTensor = "rope_freqs.weight" }
        // Llama rotates whole heads (llama.cpp refuses such a file too).
        guard c.ropeDimensions == c.headDim else {
            throw ModelError.unsupportedFeature("RoPE over \(c.ropeDimensions) of the head's \(c.headDim) dimensions")
        }
    }
}
