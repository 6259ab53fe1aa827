import Engine
import Foundation
import HTTPTypes
import Hummingbird
import Templates

/// `/v1/chat/completions` and `/v1/completions`: validate, render, generate, and answer as one JSON
/// object or as a stream of server-sent events.
struct CompletionHandler: Sendable {
    let model: ChatModel
    /// Runs the generation: the model itself, or a fake in tests.
    var scheduler: any InferenceScheduler

    init(model: ChatModel, scheduler: (any InferenceScheduler)? = nil) {
        self.model = model
        self.scheduler = scheduler ?? model
    }

    /// What shapes one reply: its identity and how its text is read (reasoning, tool calls, logprobs).
    struct Reply: Sendable {
        var id: String
        var created: Int
        var chat: Bool
        var modelID: String
        var tools: Set<String>
        var parseTools: Bool
        var parallelToolCalls: Bool
        var format: ToolCallFormat
        var forcedReply: String
        var startsInReasoning: Bool
        /// The tool calls a grammar holds: their arguments stream as they come.
        var heldCalls: ChatStreamParser.HeldCalls
        var logprobs: Bool
        var includeUsage: Bool

        func parser() -> ChatStreamParser {
            ChatStreamParser(format: format, tools: tools, parseTools: parseTools, parallelToolCalls: parallelToolCalls,
                             heldCalls: heldCalls, startsInReasoning: startsInReasoning)
        }
    }

    func handle(body: Value.Object, chat: Bool) async throws -> Response {
        let request = try ChatRequest(body: body, chat: chat)
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
        let stream = try scheduler.generate(prompt: prompt.tokens, parameters: request.sampling, maxTokens: request.maxTokens ?? room,
                                        stop: request.stop, logprobs: request.logprobs ? request.topLogprobs : nil,
                                        loopGuard: request.maxTokens == nil, ignoreEOS: request.ignoreEOS,
                                        grammar: prompt.grammar)
        let tools = request.toolNames
        let reply = Reply(id: Responses.newID(chat ? "chatcmpl" : "cmpl"), created: Int(Date().timeIntervalSince1970), chat: chat,
                          modelID: model.id, tools: tools, parseTools: chat && !tools.isEmpty && request.toolChoice != .none,
                          parallelToolCalls: request.parallelToolCalls, format: model.toolFormat, forcedReply: prompt.forcedReply,
                          startsInReasoning: prompt.startsInReasoning,
                          heldCalls: Self.heldCalls(prompt.grammar),
                          logprobs: request.logprobs, includeUsage: request.includeUsage)
        if request.stream { return streamResponse(stream, reply) }
        return try await collectedResponse(stream, reply)
    }

    /// Which calls the reply's grammar holds: all of a forced call, or those opening with the
    /// trigger; none when the grammar is `response_format`'s.
    static func heldCalls(_ grammar: ReplyGrammar?) -> ChatStreamParser.HeldCalls {
        guard let grammar, grammar.isToolCall else { return .none }
        return grammar.trigger.map { .opening($0) } ?? .all
    }

    private func finishReason(_ r: GenerationResult, toolCalls: Bool) -> String {
        toolCalls ? "tool_calls" : r.finishReason == .length ? "length" : "stop"
    }

    private func collectedResponse(_ stream: AsyncStream<GenerationEvent>, _ reply: Reply) async throws -> Response {
        var text = reply.forcedReply
        var finished: GenerationResult?
        for await event in stream {
            switch event {
            case .text(let t, _): text += t
            case .finished(let r): finished = r
            case .failed(let e): throw e
            case .keepAlive: break
            }
        }
        guard let result = finished else { throw APIError.internalError() }
        var choice: [(String, Value)] = [("index", .int(0))]
        var calls: [ToolCall] = []
        if reply.chat {
            var parser = reply.parser()
            var content = "", reasoning = ""
            for event in parser.feed(text) + parser.finish() {
                switch event {
                case .content(let c): content += c
                case .reasoning(let r): reasoning += r
                case .toolCallStart(_, let id, let name): calls.append(ToolCall(id: id, name: name, arguments: ""))
                case .toolCallArguments(let index, let fragment): calls[index].arguments += fragment
                }
            }
            if reply.parseTools { content = content.trimmingCharacters(in: .whitespacesAndNewlines) }
            var message: [(String, Value)] = [("role", .string("assistant")), ("content", calls.isEmpty || !content.isEmpty ? .string(content) : .none)]
            if !reasoning.isEmpty { message.append(("reasoning_content", .string(reasoning))) }
            if !calls.isEmpty { message.append(("tool_calls", Responses.toolCalls(calls))) }
            choice.append(("message", Responses.object(message)))
        } else {
            choice.append(("text", .string(text)))
        }
        if reply.logprobs { choice.append(("logprobs", logprobs(result.logprobs, chat: reply.chat))) }
        choice.append(("finish_reason", .string(finishReason(result, toolCalls: !calls.isEmpty))))
        let body = Responses.object(Responses.header(id: reply.id, object: reply.chat ? "chat.completion" : "text_completion", model: reply.modelID, created: reply.created)
            + [("choices", .array([Responses.object(choice)])), ("usage", Responses.usage(result))])
        return WickServer.json(body)
    }

    /// Log-probabilities in OpenAI's shape: `{content: [{token, logprob, bytes, top_logprobs}]}` for
    /// chat, `{tokens, token_logprobs, top_logprobs}` for completions.
    private func logprobs(_ entries: [TokenLogprob], chat: Bool) -> Value {
        let tokenizer = model.tokenizer
        func text(_ id: Int32) -> String { String(decoding: tokenizer.piece(id, special: false), as: UTF8.self) }
        func bytes(_ id: Int32) -> Value { .array(tokenizer.piece(id, special: false).map { .int(Int($0)) }) }
        if chat {
            return Responses.object([("content", .array(entries.map { e in
                Responses.object([("token", .string(text(e.id))), ("logprob", .double(Double(e.logprob))), ("bytes", bytes(e.id)),
                                  ("top_logprobs", .array(e.top.map { t in
                                      Responses.object([("token", .string(text(t.id))), ("logprob", .double(Double(t.logprob))), ("bytes", bytes(t.id))])
                                  }))])
            }))])
        }
        return Responses.object([
            ("tokens", .array(entries.map { .string(text($0.id)) })),
            ("token_logprobs", .array(entries.map { .double(Double($0.logprob)) })),
            ("top_logprobs", .array(entries.map { e in
                Responses.object(e.top.map { (text($0.id), Value.double(Double($0.logprob))) })
            })),
        ])
    }

    private func streamResponse(_ stream: AsyncStream<GenerationEvent>, _ reply: Reply) -> Response {
        let body = ResponseBody { writer in
            func send(_ s: String) async throws { try await writer.write(ByteBuffer(string: s)) }
            func chunk(_ delta: [(String, Value)], finish: String? = nil, logprobs: Value? = nil) async throws {
                if reply.chat {
                    try await send(Responses.chunk(id: reply.id, model: reply.modelID, created: reply.created, delta: delta, finish: finish, logprobs: logprobs))
                } else {
                    var choice: [(String, Value)] = [("index", .int(0)), ("text", delta.first { $0.0 == "content" }?.1 ?? .string(""))]
                    if let logprobs { choice.append(("logprobs", logprobs)) }
                    choice.append(("finish_reason", finish.map(Value.string) ?? .none))
                    try await send(Responses.event(Responses.object(Responses.header(id: reply.id, object: "text_completion", model: reply.modelID, created: reply.created)
                        + [("choices", .array([Responses.object(choice)]))])))
                }
            }
            // Headers and a first byte go out at once (Kibana's timeouts count from the request).
            try await send(": wick\n\n")
            if reply.chat { try await chunk([("role", .string("assistant")), ("content", .string(""))]) }
            var parser = reply.parser()
            var result: GenerationResult?
            var pendingLogprobs: [TokenLogprob] = []
            func deliver(_ events: [ChatEvent]) async throws {
                for event in events {
                    switch event {
                    case .reasoning(let r): try await chunk([("reasoning_content", .string(r))])
                    case .content(let c):
                        guard !c.isEmpty else { continue }
                        let logprobs = reply.logprobs ? self.logprobs(pendingLogprobs, chat: reply.chat) : nil
                        pendingLogprobs = []
                        try await chunk([("content", .string(c))], logprobs: logprobs)
                    // Each call as OpenAI streams it: index, id and name first, then the arguments in pieces.
                    case .toolCallStart(let index, let id, let name):
                        try await chunk([("tool_calls", .array([Responses.object([
                            ("index", .int(index)), ("id", .string(id)), ("type", .string("function")),
                            ("function", Responses.object([("name", .string(name)), ("arguments", .string(""))])),
                        ])]))])
                    case .toolCallArguments(let index, let fragment):
                        try await chunk([("tool_calls", .array([Responses.object([
                            ("index", .int(index)), ("function", Responses.object([("arguments", .string(fragment))])),
                        ])]))])
                    }
                }
            }
            try await deliver(parser.feed(reply.forcedReply))
            for await event in stream {
                switch event {
                case .keepAlive: try await send(": keep-alive\n\n")
                case .text(let t, let logprobs):
                    pendingLogprobs += logprobs
                    try await deliver(parser.feed(t))
                case .finished(let r): result = r
                case .failed(let e): try await send(Responses.event(e.body))
                }
            }
            try await deliver(parser.finish())
            guard let result else {
                try await send(Responses.event(APIError.internalError("The generation ended unexpectedly.").body))
                try await writer.finish(nil)
                return
            }
            try await chunk([], finish: finishReason(result, toolCalls: parser.calls > 0))
            if reply.includeUsage {
                try await send(Responses.event(Responses.object(Responses.header(id: reply.id, object: reply.chat ? "chat.completion.chunk" : "text_completion", model: reply.modelID, created: reply.created)
                    + [("choices", .array([])), ("usage", Responses.usage(result))])))
            }
            try await send("data: [DONE]\n\n")
            try await writer.finish(nil)
        }
        // X-Accel-Buffering: nginx passes the events on as they come even where the proxy buffers.
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache",
                                               HTTPField.Name("X-Accel-Buffering")!: "no"], body: body)
    }
}
