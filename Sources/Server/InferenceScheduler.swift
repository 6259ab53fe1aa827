import Engine

/// What a generation reports as it runs.
enum GenerationEvent: Sendable {
    /// Nothing yet (waiting in the queue, or processing the prompt): keeps a stream's connection alive.
    case keepAlive
    /// Final text, with the log-probabilities of the tokens it completes (when asked for).
    case text(String, [TokenLogprob])
    case finished(GenerationResult)
    case failed(APIError)
}

/// Runs a loaded model's generations and embeddings for the HTTP handlers, which see only this:
/// `ChatModel` schedules them on the process's `InferenceQueue`; tests give the handlers a fake.
protocol InferenceScheduler: Sendable {
    /// Starts a generation; events arrive as text becomes final. Ending the stream's consumer stops it.
    func generate(prompt: [Int32], parameters: SamplingParameters, maxTokens: Int, stop: [String],
                  logprobs: Int?, loopGuard: Bool, replyStarts: [[Int32]]) throws -> AsyncStream<GenerationEvent>
    func embed(_ sequences: [[Int32]]) async throws -> [[Float]]
}
