import Engine
import Foundation
import Grammar
import Templates

/// One reply being generated, whichever API asked for it: the request checked against the context,
/// its prompt rendered and its generation started. The model's text comes out as `ChatEvent`s read
/// by one `ChatStreamParser` (reasoning, content, tool calls); each API encodes them its own way.
struct ChatTurn: Sendable {
    /// How the reply's text is read.
    struct Reading: Sendable {
        /// A chat reply (parsed into events); a completion's text is passed on as it is.
        var chat: Bool
        var tools: Set<String>
        var parseTools: Bool
        var parallelToolCalls: Bool
        var format: ToolCallFormat
        /// Text the reply was forced to begin with; it is read as the reply's start.
        var forcedReply: String
        var startsInReasoning: Bool
        /// The tool calls a grammar holds: their arguments stream as they come.
        var heldCalls: ChatStreamParser.HeldCalls
        /// The tools' arguments schemas, which calls no grammar held are checked against.
        var argumentGrammars: [String: Grammar]
    }

    /// What a running turn reports.
    enum Event: Sendable {
        /// Nothing yet: a stream's connection is kept alive.
        case keepAlive
        /// Part of the reply, with the log-probabilities of the tokens it completes (content only).
        case reply(ChatEvent, logprobs: [TokenLogprob])
        /// The generation failed after it began.
        case failed(APIError)
    }

    /// The whole reply, for answers that are not streamed.
    struct Collected {
        var content = ""
        var reasoning = ""
        var calls: [ToolCall] = []
        var result: GenerationResult
    }

    let reading: Reading
    let promptTokens: Int
    private let stream: AsyncStream<GenerationEvent>

    /// Checks the request against the model's context and starts its generation on `scheduler`.
    init(request: ChatRequest, model: ChatModel, scheduler: any InferenceScheduler) throws {
        let prompt = try model.prompt(for: request)
        model.logger.info("\(model.id): prompt of \(prompt.tokens.count) tokens:\n\(prompt.text)")
        let room = model.contextLength - prompt.tokens.count
        if room < 1 || (request.maxTokens.map { prompt.tokens.count + $0 > model.contextLength } ?? false) {
            let completion = request.maxTokens ?? 1
            throw APIError.invalid("This model's maximum context length is \(model.contextLength) tokens. However, you requested \(prompt.tokens.count + completion) tokens (\(prompt.tokens.count) in the messages, \(completion) in the completion). Please reduce the length of the messages or completion.",
                                   param: "messages", code: "context_length_exceeded")
        }
        // Without a client limit the reply may run to the end of the context, so a degenerate loop
        // is stopped instead (Kibana treats `length` as an error).
        stream = try scheduler.generate(prompt: prompt.tokens, parameters: request.sampling, maxTokens: request.maxTokens ?? room,
                                        stop: request.stop, logprobs: request.logprobs ? request.topLogprobs : nil,
                                        loopGuard: request.maxTokens == nil, ignoreEOS: request.ignoreEOS, grammar: prompt.grammar)
        promptTokens = prompt.tokens.count
        let chat = request.prompt == nil
        let tools = request.toolNames
        let parseTools = chat && !tools.isEmpty && request.toolChoice != .none
        reading = Reading(chat: chat, tools: tools, parseTools: parseTools,
                          parallelToolCalls: request.parallelToolCalls, format: model.toolFormat, forcedReply: prompt.forcedReply,
                          startsInReasoning: prompt.startsInReasoning, heldCalls: Self.heldCalls(prompt.grammar),
                          argumentGrammars: parseTools ? Self.argumentGrammars(request.functions) : [:])
    }

    /// Each function's parameters schema compiled (one outside the supported subset is left out:
    /// its calls are taken as they come).
    static func argumentGrammars(_ functions: [(name: String, parameters: Value)]) -> [String: Grammar] {
        var grammars: [String: Grammar] = [:]
        for function in functions {
            var grammar = Grammar()
            guard let root = try? JSONSchemaCompiler.compile(function.parameters, into: &grammar, location: "parameters") else { continue }
            grammar.root = root
            grammars[function.name] = grammar
        }
        return grammars
    }

    /// Which calls the reply's grammar holds: all of a forced call, or those opening with the
    /// trigger; none when the grammar is `response_format`'s.
    static func heldCalls(_ grammar: ReplyGrammar?) -> ChatStreamParser.HeldCalls {
        guard let grammar, grammar.isToolCall else { return .none }
        return grammar.trigger.map { .opening($0) } ?? .all
    }

    /// Runs the generation to its end, handing each event to `handle` as it comes. Returns the
    /// result (nil if the generation ended without one) and how many tool calls the reply made.
    func run(_ handle: (Event) async throws -> Void) async throws -> (result: GenerationResult?, toolCalls: Int) {
        var parser = ChatStreamParser(format: reading.format, tools: reading.tools, parseTools: reading.parseTools,
                                      parallelToolCalls: reading.parallelToolCalls, heldCalls: reading.heldCalls,
                                      startsInReasoning: reading.startsInReasoning, argumentGrammars: reading.argumentGrammars)
        var pendingLogprobs: [TokenLogprob] = []
        func deliver(_ events: [ChatEvent]) async throws {
            for event in events {
                if case .content(let c) = event {
                    guard !c.isEmpty else { continue }
                    try await handle(.reply(event, logprobs: pendingLogprobs))
                    pendingLogprobs = []
                } else {
                    try await handle(.reply(event, logprobs: []))
                }
            }
        }
        func read(_ text: String) -> [ChatEvent] { reading.chat ? parser.feed(text) : [.content(text)] }
        try await deliver(read(reading.forcedReply))
        var result: GenerationResult?
        for await event in stream {
            switch event {
            case .keepAlive: try await handle(.keepAlive)
            case .text(let t, let logprobs):
                pendingLogprobs += logprobs
                try await deliver(read(t))
            case .finished(let r): result = r
            case .failed(let e): try await handle(.failed(e))
            }
        }
        // A cancelled task's stream ends early: the client left, nothing more is delivered.
        try Task.checkCancellation()
        if reading.chat { try await deliver(parser.finish()) }
        return (result, parser.calls)
    }

    /// Runs the generation to its end and gathers the reply; a failure is thrown.
    func collect() async throws -> Collected {
        var content = "", reasoning = ""
        var calls: [ToolCall] = []
        let (result, _) = try await run { event in
            switch event {
            case .keepAlive: break
            case .failed(let e): throw e
            case .reply(.content(let c), _): content += c
            case .reply(.reasoning(let r), _): reasoning += r
            case .reply(.toolCallStart(_, let id, let name), _): calls.append(ToolCall(id: id, name: name, arguments: ""))
            case .reply(.toolCallArguments(let index, let fragment), _):
                if calls.indices.contains(index) { calls[index].arguments += fragment }
            }
        }
        guard let result else { throw APIError.internalError() }
        if reading.parseTools { content = content.trimmingCharacters(in: .whitespacesAndNewlines) }
        return Collected(content: content, reasoning: reasoning, calls: calls, result: result)
    }
}
