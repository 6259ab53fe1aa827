import Engine
import Foundation
import Models
import Synchronization

/// A generation request as the `BatchScheduler` runs it: the prompt, its `GenerationState`, the
/// sequence's KV cache once it is placed, and the stream its events go to. Cancelled by its consumer.
final class ScheduledSequence: @unchecked Sendable {
    /// Arrival order: the scheduler serves sequences first come, first served.
    let arrival: Int
    let prompt: [Int32]
    var state: GenerationState
    let events: AsyncStream<GenerationEvent>.Continuation
    let cancelled = Atomic<Bool>(false)
    /// Set once text or the end was sent (keep-alive comments stop).
    let started = Atomic<Bool>(false)
    let admittedAt = Date()

    /// On the inference lane only: the cache once placed, and the token to run next while generating.
    var cache: KVCache?
    var next: Int32?
    /// When the sequence got its cache (its prompt's processing began).
    var placedAt: Date?
    /// When the prompt was done and generation began.
    var generatingSince: Date?

    init(arrival: Int, prompt: [Int32], state: GenerationState, events: AsyncStream<GenerationEvent>.Continuation) {
        self.arrival = arrival
        self.prompt = prompt
        self.state = state
        self.events = events
    }

    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }
    /// Whether the prompt is still being processed (it has no token to generate from yet).
    var isPrefilling: Bool { next == nil }

    func send(_ text: String, _ logprobs: [TokenLogprob]) {
        started.store(true, ordering: .relaxed)
        events.yield(.text(text, logprobs))
    }
}
