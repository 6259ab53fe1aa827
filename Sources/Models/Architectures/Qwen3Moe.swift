import GGUF

/// Qwen3-MoE (e.g. Qwen3-30B-A3B): Qwen3's attention with a mixture of SwiGLU experts as the
/// feed-forward of every layer.
enum Qwen3Moe: Architecture {
    static let names = ["qwen3moe"]

    static func configure(_ c: inout ModelConfig, gguf: GGUFFile) throws {
        try Qwen3.configure(&c, gguf: gguf)
        let experts = try ExpertRouting(gguf: gguf, architecture: c.architecture)
        c.experts = experts
        c.feedForwardLength = experts.feedForwardLength
    }
}
