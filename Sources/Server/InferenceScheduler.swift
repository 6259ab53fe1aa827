import Engine

/// Runs a loaded model's generations and embeddings for the HTTP handlers, which see only this:
/// `ChatModel` schedules them on the process's `InferenceQueue`; tests give the handlers a fake.
protocol InferenceScheduler: Sendable {
    /// Starts a generation; events arrive as text becomes final. Ending the stream's consumer stops it.
    /// `ignoreEOS`: end-of-generation tokens are never sampled (llama.cpp's `ignore_eos`, for benchmarks).
    /// `grammar`: what the reply must follow (tokens outside it are never sampled).
    func generate(prompt: [Int32], parameters: SamplingParameters, maxTokens: Int, stop: [String],
                  logprobs: Int?, loopGuard: Bool, ignoreEOS: Bool, grammar: ReplyGrammar?) throws -> AsyncStream<GenerationEvent>
    func embed(_ sequences: [[Int32]]) async throws -> [[Float]]
}
