import Dispatch
import Engine
import Foundation
import GGUF
import Models
import Synchronization
import Templates
import Tokenizers

/// A model loaded for serving: tokenizer, decoder, chat template and one sequence whose KV cache is
/// kept between requests (so a conversation's shared prefix is not computed again). Generations run
/// one at a time on a dedicated thread, in arrival order, with a bounded queue.
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
    private let queue = DispatchQueue(label: "wick.inference")
    private let waiting = Mutex(0)
    public let maxQueued: Int

    public init(path: String, id: String? = nil, contextLength: Int?, threads: Int, maxQueued: Int = 16) throws {
        let file = try GGUFFile(path: path)
        tokenizer = try Tokenizer(gguf: file)
        let transformer = try Transformer(gguf: file, vocabularySize: tokenizer.vocabulary.count, threads: threads)
        trainedContextLength = transformer.config.trainedContext
        self.contextLength = min(contextLength ?? min(trainedContextLength, 8192), max(trainedContextLength, contextLength ?? 0))
        session = Session(transformer: transformer, contextLength: self.contextLength)
        self.path = path
        self.id = id ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let source = file.chatTemplate ?? Self.fallbackTemplate
        template = try? Template(source)
        toolFormat = ToolCallFormat(template: source)
        let v = tokenizer.vocabulary
        bosText = v.bos.map { v.tokens[Int($0)] } ?? ""
        eosText = v.eos.map { v.tokens[Int($0)] } ?? ""
        self.maxQueued = maxQueued
    }

    /// ChatML, for files without a template of their own.
    static let fallbackTemplate = """
    {%- for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endfor %}\
    {%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}
    """

    /// The prompt tokens for a chat request (template rendered, special tokens parsed, BOS as the model asks).
    func promptTokens(for request: ChatRequest) throws -> [Int32] {
        let text: String
        if let raw = request.prompt {
            return tokenizer.encode(raw, addSpecial: true, parseSpecial: true)
        }
        guard let template else { throw APIError.invalid("This model's chat template could not be parsed.") }
        var context: [String: Value] = [
            "messages": .array(request.messages), "add_generation_prompt": .bool(true),
            "bos_token": .string(bosText), "eos_token": .string(eosText),
        ]
        if !request.tools.isEmpty && request.toolChoice != .none { context["tools"] = .array(request.tools) }
        do {
            text = try template.render(context)
        } catch let error as TemplateError {
            throw APIError.invalid("The chat template could not render these messages: \(error)", code: "template_error")
        }
        var tokens = tokenizer.encode(text, addSpecial: false, parseSpecial: true)
        if tokenizer.vocabulary.addBOS, let bos = tokenizer.vocabulary.bos, tokens.first != bos { tokens.insert(bos, at: 0) }
        return tokens
    }

    enum Event: Sendable {
        case keepAlive
        case text(String)
        case finished(GenerationResult)
        case failed(APIError)
    }

    /// Runs a generation in the queue; events arrive as text becomes final. Cancelling the stream's
    /// consumer stops the generation at the next token.
    func generate(prompt: [Int32], parameters: SamplingParameters, maxTokens: Int, stop: [String]) throws -> AsyncStream<Event> {
        let admitted = waiting.withLock { count -> Bool in
            guard count < maxQueued else { return false }
            count += 1
            return true
        }
        guard admitted else {
            throw APIError(status: 503, message: "The server is busy: \(maxQueued) requests are already waiting. Retry shortly.",
                           type: "server_error", code: "queue_full")
        }
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
        queue.async { [self] in
            defer {
                waiting.withLock { $0 -= 1 }
                keepAlive.cancel()
                continuation.finish()
            }
            if cancelled.load(ordering: .relaxed) { return }
            let generator = Generator(session: session, tokenizer: tokenizer)
            let result = generator.generate(prompt: prompt, parameters: parameters, maxTokens: maxTokens, stop: stop,
                                            isCancelled: { cancelled.load(ordering: .relaxed) },
                                            onText: { text in
                                                started.store(true, ordering: .relaxed)
                                                continuation.yield(.text(text))
                                            })
            started.store(true, ordering: .relaxed)
            continuation.yield(.finished(result))
        }
        return stream
    }
}
