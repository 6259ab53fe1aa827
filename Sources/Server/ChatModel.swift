import Dispatch
import Engine
import Foundation
import GGUF
import Grammar
import Logging
import Models
import Synchronization
import Templates
import Tokenizers

/// A model loaded for serving: tokenizer, decoder, chat template, and the `BatchScheduler` that runs
/// up to `parallel` of its generations at once over a paged KV cache (so a conversation's or a system
/// prompt's computed prefix is not computed again). Steps run on the process's `InferenceQueue`.
public final class ChatModel: InferenceScheduler, @unchecked Sendable {
    public let id: String
    public let path: String
    public let contextLength: Int
    public let trainedContextLength: Int
    public let parallel: Int
    public let kvCacheType: KVCacheType
    /// Values per embedding vector (the model's hidden size).
    public var embeddingSize: Int { transformer.config.embeddingLength }
    /// An encoder (BERT): it computes embeddings and does not generate text.
    public var isEmbeddingOnly: Bool { ArchitectureRegistry.isEmbeddingOnly(transformer.config.architecture) }
    let tokenizer: Tokenizer
    let transformer: Transformer
    let scheduler: BatchScheduler
    let builder: PromptBuilder
    var toolFormat: ToolCallFormat { builder.toolFormat }
    public var templateRendersTools: Bool { builder.rendersTools && builder.template != nil }
    let queue: InferenceQueue
    let logger = Logger(label: "wick.model")
    private let activity = ModelActivity()
    /// The vocabulary prepared for grammars, made when the first constrained request comes.
    private let grammarVocabulary = Mutex<GrammarVocabulary?>(nil)
    /// Bytes of the weights (mapped) and of the KV cache.
    public let weightsBytes: Int
    public let kvCacheBytes: Int

    /// Loads the opened `file` (at `path`) for exactly `contextLength` tokens per sequence (checked by
    /// `LoadPlanner`: a length beyond the trained one is used as asked), `parallel` sequences at once.
    /// `prefixCache`: where reused prompt prefixes are kept across restarts (a folder per model
    /// file is made in it) and how many bytes they may take. `templateLimits` bound each rendering
    /// of the chat template (a GGUF's template is code from the internet).
    public init(file: GGUFFile, path: String, id: String? = nil, contextLength: Int, parallel: Int = 4, kvCacheType: KVCacheType = .f16,
                prefixCache: (directory: URL, bytes: Int)? = nil, templateLimits: Template.Limits = Template.Limits(),
                queue: InferenceQueue) throws {
        tokenizer = try Tokenizer(gguf: file)
        transformer = try Transformer(gguf: file, vocabularySize: tokenizer.vocabulary.count, sequenceLength: contextLength, pool: queue.pool)
        trainedContextLength = transformer.config.trainedContext
        self.contextLength = contextLength
        self.parallel = parallel
        self.kvCacheType = kvCacheType
        let activity = self.activity, logger = self.logger
        let id = id ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        self.id = id
        let disk = prefixCache.flatMap { cache -> PrefixDiskCache? in
            guard cache.bytes > 0 else { return nil }
            let fingerprint = PrefixDiskCache.fingerprint(of: file)
            let folder = fingerprint.map { String(format: "%02x", $0) }.joined()
            return PrefixDiskCache(directory: cache.directory.appendingPathComponent(folder), fingerprint: fingerprint, budgetBytes: cache.bytes)
        }
        scheduler = BatchScheduler(transformer: transformer, queue: queue, parallel: parallel, contextLength: contextLength,
                                   kvCacheType: kvCacheType, disk: disk) { result in
            if let result {
                Self.log(result, id: id, logger: logger)
                ServerMetrics.record(result, model: id)
            }
            activity.ended()
        }
        weightsBytes = file.fileSize
        kvCacheBytes = scheduler.pool.byteCount
        self.queue = queue
        self.path = path
        let v = tokenizer.vocabulary
        builder = PromptBuilder(template: file.chatTemplate, bosText: v.bos.map { v.tokens[Int($0)] } ?? "",
                                eosText: v.eos.map { v.tokens[Int($0)] } ?? "", limits: templateLimits)
    }

    /// Requests for this model waiting or running.
    public var activeRequests: Int { activity.active }

    /// Takes read leases on the model's file (`GGUFFile.takeReadLeases`).
    func leaseFile() -> MappedBytes.Lease { transformer.file.takeReadLeases() }
    /// Whether another process waits to truncate or write the leased file.
    var fileIsBeingChanged: Bool { transformer.file.isBeingChanged }

    /// Ends this model's generations, running and to come, with `error`: it is being unloaded.
    func withdraw(_ error: APIError) { scheduler.withdraw(error) }
    /// When a request for this model last ended (or the model was loaded).
    public var lastUsed: ContinuousClock.Instant { activity.lastUsed }

    /// A request's prompt, ready to run.
    struct Prompt {
        var tokens: [Int32]
        /// The templated text (the raw prompt for `/v1/completions`), for the log.
        var text = ""
        /// Text the reply is forced to begin with (a tool call `tool_choice` asks for); it is part of
        /// `tokens` and is read back as the start of the reply.
        var forcedReply = ""
        /// What the reply must follow (a tool call, JSON), if anything.
        var grammar: ReplyGrammar?
        /// The template opened a `<think>` block for the model (Qwen3, DeepSeek-R1 distills).
        var startsInReasoning = false
    }

    /// The prompt for a request: `PromptBuilder`'s text tokenized (special tokens parsed, BOS as the
    /// model asks), or the raw prompt of `/v1/completions`.
    func prompt(for request: ChatRequest) throws -> Prompt {
        guard !isEmbeddingOnly else {
            throw APIError.invalid("'\(id)' is an embedding model: it computes embeddings (/v1/embeddings) and does not generate text.",
                                   param: "model", code: "model_not_supported")
        }
        switch request.prompt {
        case .text(let raw)?:
            return Prompt(tokens: tokenizer.encode(raw, addSpecial: true, parseSpecial: true), text: raw,
                          grammar: try PromptBuilder.formatGrammar(request.responseFormat))
        case .tokens(let ids)?:
            let size = tokenizer.vocabulary.count
            if let bad = ids.first(where: { Int($0) >= size }) {
                throw APIError.invalid("Token id \(bad) in 'prompt' is outside this model's vocabulary of \(size) tokens.", param: "prompt")
            }
            return Prompt(tokens: ids, text: tokenizer.decode(ids), grammar: try PromptBuilder.formatGrammar(request.responseFormat))
        case nil: break
        }
        let built = try builder.build(request)
        var prompt = Prompt(tokens: tokenizer.encode(built.text, addSpecial: false, parseSpecial: true), text: built.text,
                            forcedReply: built.forcedReply, startsInReasoning: built.startsInReasoning)
        if tokenizer.vocabulary.addBOS, let bos = tokenizer.vocabulary.bos, prompt.tokens.first != bos { prompt.tokens.insert(bos, at: 0) }
        prompt.tokens += tokenizer.encode(built.forcedReply, addSpecial: false, parseSpecial: true)
        prompt.grammar = built.grammar
        return prompt
    }

    private func vocabularyForGrammars() -> GrammarVocabulary {
        grammarVocabulary.withLock { made in
            if let made { return made }
            let vocabulary = GrammarVocabulary(tokenizer: tokenizer)
            made = vocabulary
            return vocabulary
        }
    }

    /// Takes a place in the inference queue for a request of this model.
    private func admit() throws {
        try queue.admit()
        activity.began()
    }

    /// Embeddings of token sequences, computed in the queue with a cache of their own (the chat
    /// sequences' pages are left alone).
    func embed(_ sequences: [[Int32]]) async throws -> [[Float]] {
        try admit()
        let transformer = self.transformer, activity = self.activity, scheduler = self.scheduler
        return try await withCheckedThrowingContinuation { done in
            queue.run {
                defer { activity.ended() }
                // A model withdrawn while this waited reads no more of its file.
                if let error = scheduler.withdrawal { return done.resume(throwing: error) }
                let cache = transformer.makeCache(contextLength: sequences.map(\.count).max() ?? 1)
                done.resume(returning: sequences.map { tokens in
                    cache.truncate(to: 0)
                    return transformer.embedding(tokens, cache: cache)
                })
            }
        }
    }

    /// Queues a generation with the model's scheduler; events arrive as text becomes final. Ending
    /// the stream's consumer frees the sequence at the next step.
    func generate(prompt: [Int32], parameters: SamplingParameters, maxTokens: Int, stop: [String],
                  logprobs: Int?, loopGuard: Bool, ignoreEOS: Bool, grammar: ReplyGrammar?) throws -> AsyncStream<GenerationEvent> {
        let constraint: GrammarConstraint?
        do {
            constraint = try grammar.map { try GrammarConstraint($0, vocabulary: vocabularyForGrammars()) }
        } catch {
            throw APIError.invalid("The forced start of the reply does not fit its grammar: a forced tool call's 'parameters' must describe an object.", param: "tools")
        }
        try admit()
        let (stream, continuation) = AsyncStream<GenerationEvent>.makeStream()
        let state = GenerationState(tokenizer: tokenizer, prompt: prompt, parameters: parameters, maxTokens: maxTokens, stop: stop,
                                    ignoreEndOfGeneration: ignoreEOS, logprobs: logprobs, loopGuard: loopGuard ? LoopDetector() : nil, constraint: constraint)
        let sequence = scheduler.submit(prompt: prompt, state: state, events: continuation)
        // Comments keep the connection alive while the request waits or its prompt is processed.
        let keepAlive = Task {
            while !Task.isCancelled && !sequence.started.load(ordering: .relaxed) {
                try? await Task.sleep(for: .seconds(5))
                if !sequence.started.load(ordering: .relaxed) { continuation.yield(.keepAlive) }
            }
        }
        continuation.onTermination = { _ in
            keepAlive.cancel()
            sequence.cancelled.store(true, ordering: .relaxed)
        }
        return stream
    }

    private static func log(_ r: GenerationResult, id: String, logger: Logger) {
        if r.finishReason == .repetition {
            logger.warning("generation stopped: the model was repeating itself (a degenerate loop) after \(r.tokens.count) tokens")
        }
        logger.info("\(id): prompt \(r.promptTokens) tokens (\(r.reusedPromptTokens) reused) at \(Int(r.promptTokensPerSecond)) tokens/s, generated \(r.tokens.count) at \(Int(r.generationTokensPerSecond)) tokens/s, finish \(r.finishReason.rawValue)")
    }
}
