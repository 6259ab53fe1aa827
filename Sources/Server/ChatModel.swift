import Dispatch
import Engine
import Foundation
import GGUF
import Logging
import Models
import Synchronization
import Templates
import Tokenizers

/// A model loaded for serving: tokenizer, decoder, chat template and one sequence whose KV cache is
/// kept between requests (so a conversation's shared prefix is not computed again). Generations run
/// on the process's `InferenceQueue`.
public final class ChatModel: InferenceScheduler, @unchecked Sendable {
    public let id: String
    public let path: String
    public let contextLength: Int
    public let trainedContextLength: Int
    let tokenizer: Tokenizer
    let session: Session
    let builder: PromptBuilder
    var toolFormat: ToolCallFormat { builder.toolFormat }
    let queue: InferenceQueue
    let logger = Logger(label: "wick.model")
    /// This model's requests waiting or running.
    private let inFlight = Atomic<Int>(0)
    private let lastUsedAt = Mutex(ContinuousClock.now)
    /// Bytes of the weights (mapped) and of the KV cache.
    public let weightsBytes: Int
    public let kvCacheBytes: Int

    /// Loads the opened `file` (at `path`) for exactly `contextLength` tokens (checked by
    /// `LoadPlanner`): a length beyond the trained one is used as asked.
    public init(file: GGUFFile, path: String, id: String? = nil, contextLength: Int, queue: InferenceQueue) throws {
        tokenizer = try Tokenizer(gguf: file)
        let transformer = try Transformer(gguf: file, vocabularySize: tokenizer.vocabulary.count, pool: queue.pool)
        trainedContextLength = transformer.config.trainedContext
        self.contextLength = contextLength
        session = Session(transformer: transformer, contextLength: self.contextLength)
        weightsBytes = file.fileSize
        kvCacheBytes = session.cache.byteCount
        self.queue = queue
        self.path = path
        self.id = id ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let v = tokenizer.vocabulary
        builder = PromptBuilder(template: file.chatTemplate, bosText: v.bos.map { v.tokens[Int($0)] } ?? "",
                                eosText: v.eos.map { v.tokens[Int($0)] } ?? "")
    }

    /// Requests for this model waiting or running.
    public var activeRequests: Int { inFlight.load(ordering: .relaxed) }
    /// When a request for this model last ended (or the model was loaded).
    public var lastUsed: ContinuousClock.Instant { lastUsedAt.withLock { $0 } }

    /// A request's prompt, ready to run.
    struct Prompt {
        var tokens: [Int32]
        /// The templated text (the raw prompt for `/v1/completions`), for the log.
        var text = ""
        /// Text the reply is forced to begin with (a tool call `tool_choice` asks for); it is part of
        /// `tokens` and is read back as the start of the reply.
        var forcedReply = ""
        /// The reply must begin with one of these token sequences (the names of the tools a
        /// required call may name).
        var replyStarts: [[Int32]] = []
        /// The template opened a `<think>` block for the model (Qwen3, DeepSeek-R1 distills).
        var startsInReasoning = false
    }

    /// The prompt for a request: `PromptBuilder`'s text tokenized (special tokens parsed, BOS as the
    /// model asks), or the raw prompt of `/v1/completions`.
    func prompt(for request: ChatRequest) throws -> Prompt {
        if let raw = request.prompt {
            return Prompt(tokens: tokenizer.encode(raw, addSpecial: true, parseSpecial: true), text: raw)
        }
        let built = try builder.build(request)
        var prompt = Prompt(tokens: tokenizer.encode(built.text, addSpecial: false, parseSpecial: true), text: built.text,
                            forcedReply: built.forcedReply, startsInReasoning: built.startsInReasoning)
        if tokenizer.vocabulary.addBOS, let bos = tokenizer.vocabulary.bos, prompt.tokens.first != bos { prompt.tokens.insert(bos, at: 0) }
        prompt.tokens += tokenizer.encode(built.forcedReply, addSpecial: false, parseSpecial: true)
        prompt.replyStarts = built.replyStarts.map { tokenizer.encode($0) }
        return prompt
    }

    /// Takes a place in the inference queue for a request of this model.
    private func admit() throws {
        try queue.admit()
        inFlight.add(1, ordering: .relaxed)
    }

    /// Runs admitted work on the inference queue and marks this model used when it ends.
    private func run(_ work: @escaping @Sendable () -> Void) {
        queue.run { [self] in
            defer {
                lastUsedAt.withLock { $0 = .now }
                inFlight.subtract(1, ordering: .relaxed)
            }
            work()
        }
    }

    /// Embeddings of token sequences, computed in the queue with a cache of their own (the chat
    /// sequence's cache, and so its reusable prefix, is left alone).
    func embed(_ sequences: [[Int32]]) async throws -> [[Float]] {
        try admit()
        let transformer = session.transformer
        return await withCheckedContinuation { done in
            run {
                let cache = transformer.makeCache(contextLength: sequences.map(\.count).max() ?? 1)
                done.resume(returning: sequences.map { tokens in
                    cache.truncate(to: 0)
                    return transformer.embedding(tokens, cache: cache)
                })
            }
        }
    }

    /// Runs a generation in the queue; events arrive as text becomes final. Cancelling the stream's
    /// consumer stops the generation at the next token.
    func generate(prompt: [Int32], parameters: SamplingParameters, maxTokens: Int, stop: [String],
                  logprobs: Int?, loopGuard: Bool, replyStarts: [[Int32]]) throws -> AsyncStream<GenerationEvent> {
        try admit()
        let cancelled = Atomic<Bool>(false)
        let started = Atomic<Bool>(false)
        let (stream, continuation) = AsyncStream<GenerationEvent>.makeStream()
        continuation.onTermination = { _ in cancelled.store(true, ordering: .relaxed) }
        // Comments keep the connection alive while the request waits or its prompt is processed.
        let keepAlive = Task {
            while !Task.isCancelled && !started.load(ordering: .relaxed) {
                try? await Task.sleep(for: .seconds(5))
                if !started.load(ordering: .relaxed) { continuation.yield(.keepAlive) }
            }
        }
        run { [self] in
            defer {
                keepAlive.cancel()
                continuation.finish()
            }
            if cancelled.load(ordering: .relaxed) { return }
            let generator = Generator(session: session, tokenizer: tokenizer)
            let result = generator.generate(prompt: prompt, parameters: parameters, maxTokens: maxTokens, stop: stop,
                                            logprobs: logprobs, loopGuard: loopGuard ? LoopDetector() : nil, replyStarts: replyStarts,
                                            isCancelled: { cancelled.load(ordering: .relaxed) },
                                            onText: { text, logprobs in
                                                started.store(true, ordering: .relaxed)
                                                continuation.yield(.text(text, logprobs))
                                            })
            started.store(true, ordering: .relaxed)
            log(result)
            continuation.yield(.finished(result))
        }
        return stream
    }

    private func log(_ r: GenerationResult) {
        if r.finishReason == .repetition {
            logger.warning("generation stopped: the model was repeating itself (a degenerate loop) after \(r.tokens.count) tokens")
        }
        logger.info("\(id): prompt \(r.promptTokens) tokens (\(r.reusedPromptTokens) reused) at \(Int(r.promptTokensPerSecond)) tokens/s, generated \(r.tokens.count) at \(Int(r.generationTokensPerSecond)) tokens/s, finish \(r.finishReason.rawValue)")
    }
}
