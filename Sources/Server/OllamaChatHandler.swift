import Engine
import Foundation
import Hummingbird
import Templates

/// Ollama's `/api/chat` and `/api/generate`: the request (messages or a prompt, `options`, `format`,
/// tools) is read into a chat or completion request; the reply is one JSON object or, by default,
/// newline-delimited JSON objects ending with `"done": true` and the timings.
struct OllamaChatHandler: Sendable {
    let model: ChatModel
    var scheduler: any InferenceScheduler
    /// Run once the reply is complete (the request's `keep_alive`).
    var finished: @Sendable () async -> Void = {}

    init(model: ChatModel, scheduler: (any InferenceScheduler)? = nil) {
        self.model = model
        self.scheduler = scheduler ?? model
    }

    /// A request with nothing to answer (no messages, an empty prompt): Ollama's way to load a
    /// model, or with `keep_alive` 0 to unload it.
    static func asksNothing(_ body: Value.Object, chat: Bool) -> Bool {
        switch body[chat ? "messages" : "prompt"] {
        case nil, .none?: return true
        case .array(let list)?: return list.isEmpty
        case .string(let s)?: return s.isEmpty
        default: return false
        }
    }

    /// The answer to such a request: `reason` "load" or "unload".
    static func nothingDone(model: String, chat: Bool, reason: String) -> Response {
        WickServer.json(Responses.object([("model", .string(model)), ("created_at", .string(timestamp(Date())))]
            + (chat ? [("message", Responses.object([("role", .string("assistant")), ("content", .string(""))]))] : [("response", .string(""))])
            + [("done", .bool(true)), ("done_reason", .string(reason))]))
    }

    func handle(body: Value.Object, chat: Bool) async throws -> Response {
        let f = FieldReader(body)
        let stream = try f.bool("stream") ?? true
        if Self.asksNothing(body, chat: chat) {
            // Loads the model (done already, to find it) and says so.
            await finished()
            return Self.nothingDone(model: model.id, chat: chat, reason: "load")
        }
        let translated = try chat ? Self.chatBody(body) : Self.generateBody(body)
        var request = try ChatRequest(body: translated.body, chat: translated.chat)
        request.stream = stream
        let turn = try ChatTurn(request: request, model: model, scheduler: scheduler)
        let field = chat ? "content" : "response"
        if !stream {
            let collected = try await turn.collect()
            await finished()
            var fields = head()
            if chat {
                fields.append(("message", message(content: collected.content, thinking: collected.reasoning, calls: collected.calls)))
            } else {
                fields.append((field, .string(collected.content)))
                if !collected.reasoning.isEmpty { fields.append(("thinking", .string(collected.reasoning))) }
            }
            return WickServer.json(Responses.object(fields + Self.done(collected.result)))
        }
        let body = ResponseBody { writer in
            func send(_ fields: [(String, Value)]) async throws {
                try await writer.write(ByteBuffer(string: Responses.object(head() + fields).compactJSON + "\n"))
            }
            func piece(content: String = "", thinking: String = "", calls: [ToolCall] = []) async throws {
                if chat {
                    try await send([("message", message(content: content, thinking: thinking, calls: calls)), ("done", .bool(false))])
                } else {
                    try await send([(field, .string(content))] + (thinking.isEmpty ? [] : [("thinking", .string(thinking))]) + [("done", .bool(false))])
                }
            }
            // Ollama sends each tool call whole, when it is complete.
            var call: ToolCall?
            var failure: APIError?
            let (result, _) = try await turn.run { event in
                switch event {
                case .keepAlive: break
                case .failed(let e): failure = e
                case .reply(.content(let c), _): try await piece(content: c)
                case .reply(.reasoning(let r), _): try await piece(thinking: r)
                case .reply(.toolCallStart(_, let id, let name), _):
                    if let done = call { try await piece(calls: [done]) }
                    call = ToolCall(id: id, name: name, arguments: "")
                case .reply(.toolCallArguments(_, let fragment), _): call?.arguments += fragment
                }
            }
            if let done = call { try await piece(calls: [done]) }
            await finished()
            if let result, failure == nil {
                try await send((chat ? [("message", message(content: "", thinking: "", calls: []))] : [(field, .string(""))]) + Self.done(result))
            } else {
                try await writer.write(ByteBuffer(string: Responses.object([("error", .string((failure ?? APIError.internalError()).message))]).compactJSON + "\n"))
            }
            try await writer.finish(nil)
        }
        return WickServer.eventStream(body, contentType: "application/x-ndjson")
    }

    private func head() -> [(String, Value)] {
        [("model", .string(model.id)), ("created_at", .string(Self.timestamp(Date())))]
    }

    private func message(content: String, thinking: String, calls: [ToolCall]) -> Value {
        var fields: [(String, Value)] = [("role", .string("assistant")), ("content", .string(content))]
        if !thinking.isEmpty { fields.append(("thinking", .string(thinking))) }
        if !calls.isEmpty {
            fields.append(("tool_calls", .array(calls.map { call in
                Responses.object([("function", Responses.object([("name", .string(call.name)), ("arguments", MessagesHandler.input(call.arguments))]))])
            })))
        }
        return Responses.object(fields)
    }

    /// The last object's fields: why it ended and the timings, in nanoseconds.
    static func done(_ r: GenerationResult) -> [(String, Value)] {
        func nanoseconds(_ seconds: Double) -> Value { .int(Int(exactly: (seconds * 1e9).rounded()) ?? 0) }
        return [("done", .bool(true)), ("done_reason", .string(r.finishReason == .length ? "length" : "stop")),
                ("total_duration", nanoseconds(r.promptSeconds + r.generationSeconds)), ("load_duration", .int(0)),
                ("prompt_eval_count", .int(r.promptTokens)), ("prompt_eval_duration", nanoseconds(r.promptSeconds)),
                ("eval_count", .int(r.tokens.count)), ("eval_duration", nanoseconds(r.generationSeconds))]
    }

    /// RFC 3339 with fractional seconds, as Ollama writes times.
    static func timestamp(_ date: Date) -> String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date)
    }

    // MARK: - The request, read into a chat or completion request

    /// `/api/chat`'s body as a chat completion request's.
    static func chatBody(_ body: Value.Object) throws -> (body: Value.Object, chat: Bool) {
        var chat = try common(body)
        guard case .array(let list)? = body["messages"] else { throw APIError.invalid("'messages' must be an array.", param: "messages") }
        chat["messages"] = .array(try list.enumerated().map { try message($0.element, param: "messages[\($0.offset)]") })
        if let tools = body["tools"], tools != .none { chat["tools"] = tools }
        return (chat, true)
    }

    /// `/api/generate`'s body: the prompt as a user message under `system`, or with `raw` as it is.
    static func generateBody(_ body: Value.Object) throws -> (body: Value.Object, chat: Bool) {
        let f = FieldReader(body)
        var request = try common(body)
        let prompt = try f.string("prompt") ?? ""
        if try f.bool("raw") == true {
            request["prompt"] = .string(prompt)
            return (request, false)
        }
        try noImages(body["images"], param: "images")
        let system = try f.string("system").map { [Responses.object([("role", .string("system")), ("content", .string($0))])] } ?? []
        request["messages"] = .array(system + [Responses.object([("role", .string("user")), ("content", .string(prompt))])])
        return (request, true)
    }

    /// What both share: the model, `format` and the sampling `options`.
    static func common(_ body: Value.Object) throws -> Value.Object {
        var request = Value.Object()
        request["model"] = body["model"]
        switch body["format"] {
        case nil, .none?, .string("")?: break
        case .string("json")?: request["response_format"] = Responses.object([("type", .string("json_object"))])
        case .object(let schema)?:
            request["response_format"] = Responses.object([("type", .string("json_schema")),
                                                           ("json_schema", Responses.object([("name", .string("format")), ("schema", .object(schema))]))])
        default: throw APIError.invalid("'format' must be \"json\" or a JSON schema.", param: "format")
        }
        switch body["options"] {
        case nil, .none?: break
        case .object(let options)?:
            for (ours, theirs) in [("temperature", "temperature"), ("top_p", "top_p"), ("top_k", "top_k"), ("min_p", "min_p"), ("seed", "seed"),
                                   ("repeat_penalty", "repeat_penalty"), ("presence_penalty", "presence_penalty"),
                                   ("frequency_penalty", "frequency_penalty"), ("stop", "stop")] {
                request[ours] = options[theirs]
            }
            // `num_predict`: -1 (or -2) is no limit.
            if let n = options["num_predict"], let value = numericValue(n), value > 0 { request["max_tokens"] = n }
        default: throw APIError.invalid("'options' must be an object.", param: "options")
        }
        return request
    }

    /// One Ollama message as a chat message: tool calls' arguments (objects) as JSON text with an id,
    /// `thinking` as reasoning, `tool_name` as the tool message's name.
    static func message(_ value: Value, param: String) throws -> Value {
        guard case .object(var m) = value else { throw APIError.invalid("\(param) must be an object.", param: param) }
        try noImages(m["images"], param: param + ".images")
        m["images"] = nil
        if let thinking = m["thinking"] {
            m["reasoning_content"] = thinking
            m["thinking"] = nil
        }
        if let name = m["tool_name"] {
            m["name"] = name
            m["tool_name"] = nil
        }
        if case .array(let calls)? = m["tool_calls"] {
            m["tool_calls"] = .array(try calls.enumerated().map { index, call in
                guard case .object(let c) = call, case .object(let function)? = c["function"], case .string(let name)? = function["name"] else {
                    throw APIError.invalid("\(param).tool_calls[\(index)] must be {\"function\": {\"name\": …, \"arguments\": {…}}}.", param: param + ".tool_calls")
                }
                let arguments: String
                switch function["arguments"] {
                case .string(let text)?: arguments = text
                case let other?: arguments = other.compactJSON
                case nil: arguments = "{}"
                }
                let id: Value = c["id"] ?? .string("call_\(index)")
                return Responses.object([("id", id), ("type", .string("function")),
                                         ("function", Responses.object([("name", .string(name)), ("arguments", .string(arguments))]))])
            })
        }
        return .object(m)
    }

    private static func noImages(_ images: Value?, param: String) throws {
        if case .array(let list)? = images, !list.isEmpty {
            throw APIError.invalid("'\(param)': this server's models read text only.", param: param)
        }
    }
}
