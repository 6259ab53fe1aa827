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
