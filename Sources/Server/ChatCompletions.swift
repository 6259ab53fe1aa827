import Engine
import Foundation
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

    /// The OpenAI side of one reply: its identity and what the client asked to see.
    struct Reply: Sendable {
        var id: String
        var created: Int
        var chat: Bool
        var modelID: String
        var logprobs: Bool
        var includeUsage: Bool
    }

    func handle(body: Value.Object, chat: Bool) async throws -> Response {
        let request = try ChatRequest(body: body, chat: chat)
        let turn = try ChatTurn(request: request, model: model, scheduler: scheduler)
        let reply = Reply(id: Responses.newID(chat ? "chatcmpl" : "cmpl"), created: Int(Date().timeIntervalSince1970), chat: chat,
                          modelID: model.id, logprobs: request.logprobs, includeUsage: request.includeUsage)
        if request.stream { return streamResponse(turn, reply) }
        return try await collectedResponse(turn, reply)
    }

    private func finishReason(_ r: GenerationResult, toolCalls: Bool) -> String {
        toolCalls ? "tool_calls" : r.finishReason == .length ? "length" : "stop"
    }

    private func collectedResponse(_ turn: ChatTurn, _ reply: Reply) async throws -> Response {
        let collected = try await turn.collect()
        var choice: [(String, Value)] = [("index", .int(0))]
        if reply.chat {
            choice.append(("message", Responses.message(role: "assistant", content: collected.content, reasoning: collected.reasoning, calls: collected.calls)))
        } else {
            choice.append(("text", .string(collected.content)))
        }
        if reply.logprobs { choice.append(("logprobs", logprobs(collected.result.logprobs, chat: reply.chat))) }
        choice.append(("finish_reason", .string(finishReason(collected.result, toolCalls: !collected.calls.isEmpty))))
        let body = Responses.object(Responses.header(id: reply.id, object: reply.chat ? "chat.completion" : "text_completion", model: reply.modelID, created: reply.created)
            + [("choices", .array([Responses.object(choice)])), ("usage", Responses.usage(collected.result))])
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

    private func streamResponse(_ turn: ChatTurn, _ reply: Reply) -> Response {
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
            let (result, toolCalls) = try await turn.run { event in
                switch event {
                case .keepAlive: try await send(": keep-alive\n\n")
                case .failed(let e): try await send(Responses.event(e.body))
                case .reply(.reasoning(let r), _): try await chunk([("reasoning_content", .string(r))])
                case .reply(.content(let c), let logprobs):
                    try await chunk([("content", .string(c))], logprobs: reply.logprobs ? self.logprobs(logprobs, chat: reply.chat) : nil)
                // Each call as OpenAI streams it: index, id and name first, then the arguments in pieces.
                case .reply(.toolCallStart(let index, let id, let name), _):
                    try await chunk([("tool_calls", .array([Responses.object([
                        ("index", .int(index)), ("id", .string(id)), ("type", .string("function")),
                        ("function", Responses.object([("name", .string(name)), ("arguments", .string(""))])),
                    ])]))])
                case .reply(.toolCallArguments(let index, let fragment), _):
                    try await chunk([("tool_calls", .array([Responses.object([
                        ("index", .int(index)), ("function", Responses.object([("arguments", .string(fragment))])),
                    ])]))])
                }
            }
            guard let result else {
                try await send(Responses.event(APIError.internalError("The generation ended unexpectedly.").body))
                try await writer.finish(nil)
                return
            }
            try await chunk([], finish: finishReason(result, toolCalls: toolCalls > 0))
            if reply.includeUsage {
                try await send(Responses.event(Responses.object(Responses.header(id: reply.id, object: reply.chat ? "chat.completion.chunk" : "text_completion", model: reply.modelID, created: reply.created)
                    + [("choices", .array([])), ("usage", Responses.usage(result))])))
            }
            try await send("data: [DONE]\n\n")
            try await writer.finish(nil)
        }
        return WickServer.eventStream(body)
    }
}
