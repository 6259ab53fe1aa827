/// Publishers whose GGUF files Wick downloads without asking: the model makers themselves and the
/// long-standing quantizers the guide's users pick from. Others need `wick trust add OWNER` or a confirmation.
public enum Publishers {
    public static let builtIn: Set<String> = [
        "lmstudio-community", "bartowski", "unsloth", "ggml-org", "Qwen", "google", "meta-llama", "mistralai",
        "microsoft", "HuggingFaceTB", "ibm-granite", "deepseek-ai", "NousResearch", "TheBloke", "MaziyarPanahi",
        "QuantFactory", "allenai", "nvidia", "openai", "CohereForAI", "elastic",
    ]

    /// Whether `owner` is trusted (publisher names compare case-insensitively, as the hub's do).
    public static func isTrusted(_ owner: String, settings: Settings) -> Bool {
        let lower = owner.lowercased()
        return builtIn.contains { $0.lowercased() == lower } || settings.trustedPublishers.contains { $0.lowercased() == lower }
    }
}
