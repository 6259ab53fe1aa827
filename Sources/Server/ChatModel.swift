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
public final class ChatModel: @unchecked Sendable {
    public let id: String
    public let path: String
    public let contextLength: Int
    public let trainedContextLength: Int
    let tokenizer: Tokenizer
    let session: Session
    let template: Template?
    let toolFormat: ToolCallFormat
    let bosText: String
    let eosText: String
    let queue: InferenceQueue
    let logger = Logger(label: "wick.model")
    /// This model's requests waiting or running.
    private let inFlight = Atomic<Int>(0)
    private let lastUsedAt = Mutex(ContinuousClock.now)
    /// Bytes of the weights (mapped) and of the KV cache.
    public let weightsBytes: Int
    public let kvCacheBytes: Int

    /// The largest context a model may be loaded with (positions are 32-bit in places).
    public static let maxContextLength = 1 << 24

    /// Loads `path` for `contextLength` tokens (default: the trained length, at most 8192), exactly
    /// that many: a length beyond the trained one is used as asked.
    public init(path: String, id: String? = nil, contextLength: Int?, queue: InferenceQueue) throws {
        let file = try GGUFFile(path: path)
        tokenizer = try Tokenizer(gguf: file)
        let transformer = try Transformer(gguf: file, vocabularySize: tokenizer.vocabulary.count, pool: queue.pool)
        trainedContextLength = transformer.config.trainedContext
        self.contextLength = contextLength ?? min(trainedContextLength, 8192)
        guard (16...Self.maxContextLength).contains(self.contextLength) else {
            throw APIError.invalid("A context length must be between 16 and \(Self.maxContextLength) tokens, not \(self.contextLength).", param: "context_length")
        }
        session = Session(transformer: transformer, contextLength: self.contextLength)
        weightsBytes = file.fileSize
        kvCacheBytes = session.cache.byteCount
        self.queue = queue
        self.path = path
        self.id = id ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let source = file.chatTemplate ?? Self.fallbackTemplate
        template = try? Template(source)
        toolFormat = ToolCallFormat(template: source)
        let v = tokenizer.vocabulary
        bosText = v.bos.map { v.tokens[Int($0)] } ?? ""
        eosText = v.eos.map { v.tokens[Int($0)] } ?? ""
    }

    /// Requests for this model waiting or running.
    public var activeRequests: Int { inFlight.load(ordering: .relaxed) }
    /// When a request for this model last ended (or the model was loaded).
    public var lastUsed: ContinuousClock.Instant { lastUsedAt.withLock { $0 } }

    /// ChatML, for files without a template of their own.
    static let fallbackTemplate = """
    {%- for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endfor %}\
    {%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}
    """

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

    /// The prompt for a request: the chat template rendered (special tokens parsed, BOS as the
    /// model asks), or the raw prompt of `/v1/completions`.
    func prompt(for request: ChatRequest) throws -> Prompt {
        if let raw = request.prompt {
            return Prompt(tokens: tokenizer.encode(raw, addSpecial: true, parseSpecial: true), text: raw)
        }
        guard let template else { throw APIError.invalid("This model's chat template could not be parsed.") }
        var context: [String: Value] = [
            "messages": .array(request.messages), "add_generation_prompt": .bool(true),
            "bos_token": .string(bosText), "eos_token": .string(eosText),
        ]
        if !request.tools.isEmpty && request.toolChoice != .none { context["tools"] = .array(request.tools) }
        let text = try Self.render(template, context, messages: request.messages)
        var prompt = Prompt(tokens: tokenizer.encode(text, addSpecial: false, parseSpecial: true), text: text)
        if tokenizer.vocabulary.addBOS, let bos = tokenizer.vocabulary.bos, prompt.tokens.first != bos { prompt.tokens.insert(bos, at: 0) }
        prompt.startsInReasoning = text.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("<think>")
        // A required call to the only tool is a named call; among several, the name the model
        // writes is held to the tools' names.
        let names = request.toolNames
        let choice = request.toolChoice == .required && names.count == 1 ? .named(names.first!) : request.toolChoice
        if let forced = toolFormat.forcedOpening(choice) {
            prompt.forcedReply = forced
            prompt.tokens += tokenizer.encode(forced, addSpecial: false, parseSpecial: true)
        }
        if choice == .required {
            prompt.replyStarts = names.sorted().map { tokenizer.encode(ToolCallFormat.nameAndArgumentsOpening($0)) }
        }
        return prompt
    }

    /// Renders the template. Templates disagree on the shape of tool-call turns: most want the
    /// arguments as an object, some (DeepSeek-R1) join them as text; some need text content where
    /// OpenAI clients send null. When rendering fails, those variants are tried before giving up.
    static func render(_ template: Template, _ context: [String: Value], messages: [Value]) throws -> String {
        let variants = [messages.map(Self.argumentsAsText), messages.map(Self.contentAsText),
                        messages.map { Self.contentAsText(Self.argumentsAsText($0)) }]
        do {
            return try template.render(context)
        } catch let error as TemplateError {
            for variant in variants where variant != messages {
                if let text = try? template.render(context.merging(["messages": .array(variant)]) { $1 }) { return text }
            }
            if case .raised(let message) = error {
                throw APIError.invalid("The chat template refused these messages: \(message)", code: "template_error")
            }
            throw APIError.invalid("The chat template could not render these messages: \(error)", code: "template_error")
        }
    }

    /// A message whose null content is empty text.
    static func contentAsText(_ message: Value) -> Value {
        guard case .object(var m) = message, m["content"] == Value.none else { return message }
        m["content"] = .string("")
        return .object(m)
    }

    /// A message with its tool calls' arguments as JSON text.
    static func argumentsAsText(_ message: Value) -> Value {
        guard case .object(var m) = message, case .array(let calls)? = m["tool_calls"] else { return message }
        m["tool_calls"] = .array(calls.map { call in
            guard case .object(var c) = call, case .object(var fn)? = c["function"], let arguments = fn["arguments"], case .object = arguments else { return call }
            fn["arguments"] = .string(arguments.compactJSON)
            c["function"] = .object(fn)
            return .object(c)
        })
        return .object(m)
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

    enum Event: Sendable {
        case keepAlive
        /// Final text, with the log-probabilities of the tokens it completes (when asked for).
        case text(String, [TokenLogprob])
        case finished(GenerationResult)
        case failed(APIError)
    }

    /// Runs a generation in the queue; events arrive as text becomes final. Cancelling the stream's
    /// consumer stops the generation at the next token.
    func generate(prompt: [Int32], parameters: SamplingParameters, maxTokens: Int, stop: [String],
                  logprobs: Int? = nil, loopGuard: Bool = false, replyStarts: [[Int32]] = []) throws -> AsyncStream<Event> {
        try admit()
        let cancelled = Atomic<Bool>(false)
        let started = Atomic<Bool>(false)
        let (stream, continuation) = AsyncStream<Event>.makeStream()
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
