import GGUF

/// One supported architecture: the `general.architecture` names it answers to, and how its block
/// differs from the shared decoder, as flags on `ModelConfig` read from the file's keys. Adding a
/// dense architecture that only differs in flags is one small file in `Architectures/`.
protocol Architecture: Sendable {
    static var names: [String] { get }
    static func configure(_ c: inout ModelConfig, gguf: GGUFFile) throws
}

/// Every supported architecture; the lists the CLI, the errors and the docs give come from here.
public enum ArchitectureRegistry {
    static let all: [any Architecture.Type] = [Llama.self, Qwen2.self, Qwen3.self, Qwen3Moe.self, Gemma3.self, GptOss.self, Phi3.self, Bert.self]

    /// The architecture names Wick runs.
    public static var supportedNames: [String] { all.flatMap { $0.names } }

    /// Whether an architecture only computes embeddings (an encoder: no text generation).
    public static func isEmbeddingOnly(_ architecture: String) -> Bool { Bert.names.contains(architecture) }

    /// Why Wick would refuse to run the file (nil: it runs it).
    public static func refusal(of gguf: GGUFFile) -> String? {
        do { _ = try config(for: gguf, vocabularySize: 0) } catch { return "\(error)" }
        return nil
    }

    /// `sequenceLength`: the longest sequence the model will run (nil: its trained context).
    static func config(for gguf: GGUFFile, vocabularySize: Int, sequenceLength: Int? = nil) throws -> ModelConfig {
        var c = try ModelConfig(gguf: gguf, vocabularySize: vocabularySize, sequenceLength: sequenceLength)
        guard let architecture = all.first(where: { $0.names.contains(c.architecture) }) else {
            throw ModelError.unsupportedArchitecture(c.architecture)
        }
        try architecture.configure(&c, gguf: gguf)
        guard c.feedForwardLength > 0 else { throw ModelError.missingKey(c.architecture + ".feed_forward_length") }
        try refuseUnimplemented(gguf, config: c)
        return c
    }

    /// What a file may ask for that the decoder does not do: such a file is refused, never run
    /// approximately (its answers would look plausible and be wrong).
    static func refuseUnimplemented(_ gguf: GGUFFile, config c: ModelConfig) throws {
        let a = c.architecture
        if let type = try gguf.string(a + ".rope.scaling.type"), !["none", "linear", "yarn"].contains(type) {
            throw ModelError.unsupportedFeature("rope scaling '\(type)'")
        }
        // YaRN as llama.cpp runs it for these architectures: its default ramp and magnitude. A file
        // that sets them otherwise asks for what is not done.
        for (key, usual) in [("yarn_log_multiplier", Float(0)), ("yarn_ext_factor", -1), ("yarn_attn_factor", 1), ("yarn_beta_fast", 32),
                             ("yarn_beta_slow", 1)] {
            if let value = try gguf.float(a + ".rope.scaling." + key), value != usual, !(key == "yarn_ext_factor" && value == 1) {
                throw ModelError.unsupportedFeature("YaRN's '\(key)' = \(value)")
            }
        }
        for factors in ["rope_freqs.weight", "rope_factors_long.weight"] where c.ropeFactorsTensor == nil && gguf.tensor(named: factors) != nil {
            throw ModelError.unsupportedFeature("per-dimension rope frequency factors (tensor '\(factors)') in a '\(a)' file")
        }
        if c.experts == nil, let experts = try gguf.integer(a + ".expert_count"), experts > 0 {
            throw ModelError.unsupportedFeature("a mixture of \(experts) experts")
        }
    }
}
