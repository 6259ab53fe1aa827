import HTTPTypes
import Hummingbird
import NIOCore
@testable import Engine
@testable import Server

/// What the handler tests play: a scheduler that replays fixed generation events, and readers of
/// the answers.
enum Scripted {
    /// Replays fixed events, recording what it was asked to run.
    final class Scheduler: InferenceScheduler, @unchecked Sendable {
        let events: [GenerationEvent]
        var prompts: [[Int32]] = []

        init(_ events: [GenerationEvent]) { self.events = events }

        func generate(prompt: [Int32], parameters: SamplingParameters, maxTokens: Int, stop: [String],
                      logprobs: Int?, loopGuard: Bool, ignoreEOS: Bool, grammar: ReplyGrammar?) throws -> AsyncStream<GenerationEvent> {
            prompts.append(prompt)
            let (stream, continuation) = AsyncStream<GenerationEvent>.makeStream()
            for e in events { continuation.yield(e) }
            continuation.finish()
            return stream
        }

        func embed(_ sequences: [[Int32]]) async throws -> [[Float]] { sequences.map { [Float($0.count), 0] } }
    }

    /// A generation's end: `tokens` generated after a 10-token prompt.
    static func finished(_ tokens: Int, _ reason: GenerationResult.FinishReason) -> GenerationEvent {
        var r = GenerationResult()
        r.tokens = [Int32](repeating: 5, count: tokens)
        r.finishReason = reason
        r.promptTokens = 10
        return .finished(r)
    }

    /// A response's whole body as text.
    static func body(_ response: Response) async throws -> String {
        var collected = ByteBuffer()
        let writer = CollectingWriter { collected.writeImmutableBuffer($0) }
        try await response.body.write(writer)
        return String(buffer: collected)
    }
}

/// A response body writer that hands each buffer to a closure.
struct CollectingWriter: ResponseBodyWriter {
    let collect: (ByteBuffer) -> Void
    mutating func write(_ buffer: ByteBuffer) async throws { collect(buffer) }
    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
