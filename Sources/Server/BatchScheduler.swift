import Engine
import Foundation
import Models
import Synchronization

/// Continuous batching for one loaded model: up to `parallel` sequences advance together, one
/// forward step at a time on the process's inference lane, each step a batch of rows of every
/// generating sequence (one token each) plus a chunk of the oldest prompts still being processed.
/// Prompts that arrive together are processed at full speed; a prompt arriving while streams run
/// goes in chunks small enough that they keep streaming (`prefillChunk`).
///
/// A new sequence starts from the longest prefix of its prompt already computed: pages of the
/// pool's prefix index, or the cache of another sequence (running or recently finished), shared up
/// to the last full page and copied beyond. When an earlier sequence is still computing a longer
/// common beginning (two conversations with the same system prompt arriving together), the later
/// one waits for it rather than computing the same prefix twice. Reused prefixes are also written
/// to the model's `PrefixDiskCache` and read back from it after a restart.
final class BatchScheduler: @unchecked Sendable {
    let transformer: Transformer
    let queue: InferenceQueue
    let pool: KVPagePool
    let parallel: Int
    let contextLength: Int
    /// Where reused prefixes are kept across restarts.
    let disk: PrefixDiskCache?
    /// Called on the lane when a sequence ends, with its result (nil when it failed); its place in
    /// the queue is already freed.
    let onFinish: @Sendable (GenerationResult?) -> Void

    private struct Incoming {
        var pending: [ScheduledSequence] = []
        var arrivals = 0
        var running = false
        /// Set when the model is withdrawn: every sequence, running or to come, fails with it.
        var withdrawn: APIError?
    }
    private let incoming = Mutex(Incoming())

    // Touched on the inference lane only.
    private var active: [ScheduledSequence] = []
    /// Caches of finished sequences, most recent last: the next turn of a conversation continues
    /// from its own tail page.
    private var retained: [KVCache] = []
    /// Running averages of a generation-only step by its number of sequences, and of one prompt
    /// token's share of a step.
    private var decodeStepSeconds: [Int: Double] = [:]
    private var prefillTokenSeconds = 0.0

    init(transformer: Transformer, queue: InferenceQueue, parallel: Int, contextLength: Int, kvCacheType: KVCacheType = .f16,
         disk: PrefixDiskCache? = nil,
         onFinish: @escaping @Sendable (GenerationResult?) -> Void) {
        self.disk = disk
        self.transformer = transformer
        self.queue = queue
        self.parallel = parallel
        self.contextLength = contextLength
        self.onFinish = onFinish
        // Each sequence may reach the full context.
        pool = transformer.makePagePool(positions: contextLength * parallel, type: kvCacheType)
    }

    /// Queues a generation (its place in the `InferenceQueue` already taken).
    func submit(prompt: [Int32], state: GenerationState, events: AsyncStream<GenerationEvent>.Continuation) -> ScheduledSequence {
        let (sequence, start) = incoming.withLock { s -> (ScheduledSequence, Bool) in
            s.arrivals += 1
            let sequence = ScheduledSequence(arrival: s.arrivals, prompt: prompt, state: state, events: events)
            s.pending.append(sequence)
            defer { s.running = true }
            return (sequence, !s.running)
        }
        if start { queue.dispatch.async { self.step() } }
        return sequence
    }

    /// Ends every sequence, running or waiting, with `error` at the next step, and any submitted
    /// later at once (the model is being unloaded because its file is changing).
    func withdraw(_ error: APIError) {
        incoming.withLock { $0.withdrawn = error }
    }

    /// Why the model was withdrawn, once it is.
    var withdrawal: APIError? { incoming.withLock { $0.withdrawn } }

    private func step() {
        if let error = withdrawal {
            active += incoming.withLock { s in defer { s.pending.removeAll() }; return s.pending }
            for s in active { fail(s, error) }
            retained.removeAll()
        }
        admit()
        for s in active where s.isCancelled { end(s, .cancelled) }
        for s in active where s.cache == nil { place(s) }

        let (chunks, sequences, prefillTokens, decoders) = batch()
        if chunks.isEmpty, let stuck = active.first(where: { $0.cache != nil }) {
            // Nothing could run: the prompts waiting for pages cannot all be held. The oldest gives way.
            fail(stuck, APIError(status: 503, message: "The KV cache has no room left for this prompt; retry when fewer requests run.",
                                 type: "server_error", code: "kv_cache_full"))
        }
        if !chunks.isEmpty {
            let started = Date()
            let logits = transformer.forward(batch: chunks)
            learn(seconds: Date().timeIntervalSince(started), prefillTokens: prefillTokens, decoders: decoders)
            for (s, l) in zip(sequences, logits) { advance(s, logits: l) }
        }

        let more = !active.isEmpty
        let again = incoming.withLock { s -> Bool in
            s.running = more || !s.pending.isEmpty
            return s.running
        }
        if again { queue.dispatch.async { self.step() } }
    }

    /// Moves waiting sequences into free places, in arrival order; those whose client left while
    /// they waited end at once, giving their queue places back.
    private func admit() {
        let room = parallel - active.count
        let (admitted, abandoned) = incoming.withLock { s -> ([ScheduledSequence], [ScheduledSequence]) in
            let abandoned = s.pending.filter(\.isCancelled)
            if !abandoned.isEmpty { s.pending.removeAll(where: \.isCancelled) }
            let taken = Array(s.pending.prefix(max(0, room)))
            s.pending.removeFirst(taken.count)
            return (taken, abandoned)
        }
        for s in abandoned { end(s, .cancelled) }
        active += admitted
    }

    /// Gives `s` a cache holding the longest computed beginning of its prompt, unless an earlier
    /// sequence still computing a longer common beginning is worth waiting for.
    private func place(_ s: ScheduledSequence) {
        let limit = s.prompt.count - 1
        let cache = KVCache(pool: pool, capacity: contextLength)
        var held = cache.reuse(s.prompt, limit: limit, disk: disk)
        for other in active.compactMap(\.cache) + retained.reversed() {
            let common = Self.commonPrefix(other.tokens, s.prompt, limit: limit)
            if common > held {
                cache.truncate(to: 0)
                held = cache.share(other, length: common)
            }
        }
        let promised = active.lazy.filter { $0.arrival < s.arrival && $0.cache != nil && $0.isPrefilling }
            .map { Self.commonPrefix($0.prompt, s.prompt, limit: limit) }.max() ?? 0
        guard promised < held + KVPagePool.pageSize else { return }
        s.cache = cache
        // A prefix used a second time (a system prompt, a tool list) is worth keeping across restarts.
        if held >= KVPagePool.pageSize { disk?.store(cache, upTo: held) }
        s.placedAt = Date()
        s.state.promptDone(reused: held, seconds: 0)
    }

    static func commonPrefix(_ a: [Int32], _ b: [Int32], limit: Int) -> Int {
        let bound = min(a.count, b.count, limit)
        var n = 0
        while n < bound && a[n] == b[n] { n += 1 }
        return n
    }

    /// The step's rows: one token of every generating sequence, then prompt chunks in arrival order.
    private func batch() -> ([Transformer.SequenceChunk], [ScheduledSequence], Int, Int) {
        var chunks: [Transformer.SequenceChunk] = []
        var sequences: [ScheduledSequence] = []
        for s in active {
            guard let cache = s.cache, let token = s.next else { continue }
            guard reserve(cache, 1) else {
                end(s, .length)
                continue
            }
            chunks.append(.init(cache: cache, tokens: [token]))
            sequences.append(s)
        }
        let decoders = chunks.count
        var budget = transformer.batchCapacity - decoders
        // A stream that was generating before the oldest waiting prompt arrived is protected from
        // long steps; requests that arrived together have their prompts processed at full speed.
        let waiting = active.filter { $0.cache != nil && $0.isPrefilling }
        if let oldest = waiting.first?.admittedAt, sequences.contains(where: { ($0.generatingSince ?? .distantFuture) < oldest }) {
            budget = min(budget, prefillChunk(decoders: decoders, prompts: waiting.count))
        }
        var prefillTokens = 0
        for s in active where budget > 0 {
            guard let cache = s.cache, s.isPrefilling else { continue }
            let n = min(budget, s.prompt.count - cache.count)
            // Without pages it waits: they come back as other sequences end.
            guard reserve(cache, n) else { continue }
            let end = cache.count + n
            chunks.append(.init(cache: cache, tokens: s.prompt[cache.count..<end], wantsLogits: end == s.prompt.count))
            if end == s.prompt.count { sequences.append(s) }
            budget -= n
            prefillTokens += n
        }
        return (chunks, sequences, prefillTokens, decoders)
    }

    /// Prompt tokens a step takes beside `decoders` generating sequences while `prompts` sequences
    /// wait for their prompt: with one prompt, enough to make the step about 2.3 generation steps
    /// long (so a running stream's token gaps stay within 3× their usual length); with more prompts
    /// than generating sequences, proportionally more (newcomers get a fair share of the cores).
    /// Whole groups of eight (the fast kernel) when that allows eight or more.
    private func prefillChunk(decoders: Int, prompts: Int) -> Int {
        guard let decode = decodeStep(decoders), prefillTokenSeconds > 0 else { return 8 }
        let share = 1.3 * max(1, Double(prompts) / Double(decoders))
        let fits = Int(min(Double(transformer.batchCapacity), share * decode / prefillTokenSeconds))
        return fits >= 8 ? fits / 8 * 8 : max(2, fits)
    }

    /// A generation-only step of `rows` sequences: measured, or scaled from the nearest measured
    /// smaller one (an overestimate: rows share the weights' reading).
    private func decodeStep(_ rows: Int) -> Double? {
        if let known = decodeStepSeconds[rows] { return known }
        guard let nearest = decodeStepSeconds.keys.filter({ $0 < rows }).max(), let seconds = decodeStepSeconds[nearest] else { return nil }
        return seconds * Double(rows) / Double(nearest)
    }

    private func learn(seconds: Double, prefillTokens: Int, decoders: Int) {
        func average(_ old: Double?, _ new: Double) -> Double { old.map { 0.8 * $0 + 0.2 * new } ?? new }
        if prefillTokens == 0 {
            decodeStepSeconds[decoders] = average(decodeStepSeconds[decoders], seconds)
        } else {
            let prompt = max(0, seconds - (decoders > 0 ? decodeStep(decoders) ?? 0 : 0))
            prefillTokenSeconds = average(prefillTokenSeconds == 0 ? nil : prefillTokenSeconds, prompt / Double(prefillTokens))
        }
    }

    /// Pages for `n` more positions, dropping finished sequences' caches (oldest first) when needed.
    private func reserve(_ cache: KVCache, _ n: Int) -> Bool {
        while !cache.reserve(n) {
            guard !retained.isEmpty else { return false }
            retained.removeFirst()
        }
        return true
    }

    private func advance(_ s: ScheduledSequence, logits: [Float]) {
        guard let cache = s.cache else { return }
        if s.isPrefilling {
            s.state.promptDone(reused: s.state.result.reusedPromptTokens, seconds: Date().timeIntervalSince(s.placedAt ?? s.admittedAt),
                               waited: (s.placedAt ?? s.admittedAt).timeIntervalSince(s.admittedAt))
            s.generatingSince = Date()
        }
        s.next = s.state.next(logits, roomForMore: cache.count < cache.capacity, onText: s.send)
        if s.next == nil { end(s, nil) }
    }

    /// Ends `s` (with `reason`, or as its state already ended) and frees its place. The place is
    /// freed and the generation recorded before its end is sent: a client that has read the end of
    /// its reply finds both done.
    private func end(_ s: ScheduledSequence, _ reason: GenerationResult.FinishReason?) {
        if let reason { s.state.finish(reason, onText: s.send) }
        s.started.store(true, ordering: .relaxed)
        release(s)
        onFinish(s.state.result)
        s.events.yield(.finished(s.state.result))
        s.events.finish()
    }

    private func fail(_ s: ScheduledSequence, _ error: APIError) {
        s.started.store(true, ordering: .relaxed)
        release(s)
        onFinish(nil)
        s.events.yield(.failed(error))
        s.events.finish()
    }

    private func release(_ s: ScheduledSequence) {
        active.removeAll { $0 === s }
        if let cache = s.cache {
            retained.append(cache)
            if retained.count > parallel { retained.removeFirst() }
        }
        s.cache = nil
        queue.finished()
    }
}
