import GGUF

/// Qwen3 (dense): NeoX RoPE, each query and key head normalised before RoPE, no biases; its head
/// size (`key_length`) need not be the embedding length over the heads.
enum Qwen3: Architecture {
    static let names = ["qwen3"]

    static func configure(_ c: inout ModelConfig, gguf: GGUFFile) throws {
        c.ropeNeox = true
        c.qkNorm = true
    }
}
