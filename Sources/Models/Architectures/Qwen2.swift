import GGUF

/// Qwen2 and Qwen2.5: NeoX RoPE and biases on the Q, K and V projections.
enum Qwen2: Architecture {
    static let names = ["qwen2"]

    static func configure(_ c: inout ModelConfig, gguf: GGUFFile) throws {
        c.ropeNeox = true
        c.qkvBias = true
    }
}
