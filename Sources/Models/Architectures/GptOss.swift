import GGUF

/// gpt-oss (OpenAI's open-weight models): a mixture of experts with biases and a clamped SwiGLU,
/// chosen experts weighted by the softmax of their (biased) router scores; attention with biases,
/// a learned sink per head, sliding-window layers alternating with global ones; NeoX RoPE with YaRN.
/// The feed-forward's input norm is the file's `post_attention_norm`.
enum GptOss: Architecture {
    static let names = ["gpt-oss"]

    static func configure(_ c: inout ModelConfig, gguf: GGUFFile) throws {
        c.ropeNeox = true
        c.qkvBias = true
        c.outputBias = true
        c.attentionSinks = true
        let experts = try ExpertRouting(gguf: gguf, architecture: c.architecture)
        c.experts = experts
        c.feedForwardLength = experts.feedForwardLength
        c.expertBiases = true
        c.activation = .clampedSwiglu
        c.feedForwardNorm = "post_attention_norm"
        // Even layers slide, odd ones see everything (llama.cpp's default pattern of 2).
        c.slidingPattern = try gguf.integer(c.architecture + ".attention.sliding_window_pattern") ?? 2
        c.ropeBaseSliding = try gguf.float(c.architecture + ".rope.freq_base_swa")
    }
}
