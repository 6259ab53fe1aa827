import Engine
import Foundation
import Hummingbird
import Templates

/// Anthropic's Messages API (`/v1/messages`, `/v1/messages/count_tokens`): the request is read into a
/// chat request, the reply encoded as a message of content blocks (thinking, text, tool_use) or as
/// its stream of events. Errors take Anthropic's shape.
struct MessagesHandler: Sendable {
    let model: ChatModel
    var scheduler: any InferenceScheduler

    init(model: ChatModel, scheduler: (any InferenceScheduler)? = nil) {
        self.model = model
        self.scheduler = scheduler ?? model
    }

    func handle(body: Value.Object) async throws -> Response {
        let request = try ChatRequest(body: Self.chatBody(body), chat: true)
        let turn = try ChatTurn(request: request, model: model, scheduler: scheduler)
        let id = Responses.newID("msg")
        if request.stream { return stream(turn, id: id) }
        let collected = try await turn.collect()
        var content: [Value] = []
        if !collected.reasoning.isEmpty {
            content.append(Responses.object([("type", .string("thinking")), ("thinking", .string(collected.reasoning)), ("signature", .string(""))]))
        }
        if !collected.content.isEmpty || collected.calls.isEmpty {
            content.append(Responses.object([("type", .string("text")), ("text", .string(collected.content))]))
        }
        for call in collected.calls {
            content.append(Responses.object([("type", .string("tool_use")), ("id", .string(call.id)), ("name", .string(call.name)),
                                             ("input", Self.input(call.arguments))]))
        }
        let result = collected.result
        return WickServer.json(Responses.object(message(id: id, content: content) + [
            ("stop_reason", .string(Self.stopReason(result, toolCalls: !collected.calls.isEmpty))),
            ("stop_sequence", result.stopSequence.map(Value.string) ?? .none),
            ("usage", Self.usage(result)),
        ]))
    }

    /// `count_tokens`: the prompt the request would run, counted.
    func countTokens(body: Value.Object) throws -> Response {
        var body = body
        body["max_tokens"] = nil
        let prompt = try model.prompt(for: ChatRequest(body: Self.chatBody(body), chat: true))
        return WickServer.json(Responses.object([("input_tokens", .int(prompt.tokens.count))]))
    }

    private func message(id: String, content: [Value]) -> [(String, Value)] {
        [("id", .string(id)), ("type", .string("message")), ("role", .string("assistant")), ("model", .string(model.id)), ("content", .array(content))]
    }

    static func stopReason(_ r: GenerationResult, toolCalls: Bool) -> String {
        toolCalls ? "tool_use" : r.finishReason == .length ? "max_tokens" : r.stopSequence != nil ? "stop_sequence" : "end_turn"
    }

    /// Anthropic counts cache reads apart from the input tokens processed.
    static func usage(_ r: GenerationResult) -> Value {
        Responses.object([("input_tokens", .int(r.promptTokens - r.reusedPromptTokens)), ("cache_creation_input_tokens", .int(0)),
                          ("cache_read_input_tokens", .int(r.reusedPromptTokens)), ("output_tokens", .int(r.tokens.count))])
    }

    /// A call's arguments as the object `tool_use.input` is (arguments a grammar held always are one).
    static func input(_ arguments: String) -> Value {
        if let value = try? Value(jsonText: arguments), case .object = value { return value }
        return .object(Value.Object())
    }

    /// The stream: `message_start`, each content block as start, deltas and stop, then
    /// `message_delta` with the stop reason and `message_stop`.
    private func stream(_ turn: ChatTurn, id: String) -> Response {
        let body = ResponseBody { writer in
            func send(_ type: String, _ fields: [(String, Value)]) async throws {
                try await writer.write(ByteBuffer(string: Responses.namedEvent(type, Responses.object([("type", .string(type))] + fields))))
            }
            let start = Responses.object([("input_tokens", .int(turn.promptTokens)), ("output_tokens", .int(0))])
            try await send("message_start", [("message", Responses.object(message(id: id, content: []) + [
                ("stop_reason", .none), ("stop_sequence", .none), ("usage", start)]))])
            // The open block: its index and kind (thinking, text, tool_use).
            var open: (index: Int, kind: String)?
            var blocks = 0
            func begin(_ kind: String, _ block: [(String, Value)]) async throws {
                if let current = open {
                    if current.kind == kind && kind != "tool_use" { return }
                    try await send("content_block_stop", [("index", .int(current.index))])
                }
                open = (blocks, kind)
                try await send("content_block_start", [("index", .int(blocks)), ("content_block", Responses.object([("type", .string(kind))] + block))])
                blocks += 1
            }
            func delta(_ fields: [(String, Value)]) async throws {
                try await send("content_block_delta", [("index", .int(open?.index ?? 0)), ("delta", Responses.object(fields))])
            }
            let (result, toolCalls) = try await turn.run { event in
                switch event {
                case .keepAlive: try await send("ping", [])
                case .failed(let e): try await writer.write(ByteBuffer(string: Responses.namedEvent("error", Self.errorBody(e))))
                case .reply(.reasoning(let r), _):
                    try await begin("thinking", [("thinking", .string("")), ("signature", .string(""))])
                    try await delta([("type", .string("thinking_delta")), ("thinking", .string(r))])
                case .reply(.content(let c), _):
                    // Whitespace between a call and the next is not a text block of its own.
                    if open?.kind == "tool_use" && c.allSatisfy(\.isWhitespace) { return }
                    try await begin("text", [("text", .string(""))])
                    try await delta([("type", .string("text_delta")), ("text", .string(c))])
                case .reply(.toolCallStart(_, let callID, let name), _):
                    try await begin("tool_use", [("id", .string(callID)), ("name", .string(name)), ("input", .object(Value.Object()))])
                case .reply(.toolCallArguments(_, let fragment), _):
                    try await delta([("type", .string("input_json_delta")), ("partial_json", .string(fragment))])
                }
            }
            if let current = open { try await send("content_block_stop", [("index", .int(current.index))]) }
            guard let result else {
                try await writer.write(ByteBuffer(string: Responses.namedEvent("error", Self.errorBody(APIError.internalError("The generation ended unexpectedly.")))))
                try await writer.finish(nil)
                return
            }
            try await send("message_delta", [
                ("delta", Responses.object([("stop_reason", .string(Self.stopReason(result, toolCalls: toolCalls > 0))),
                                            ("stop_sequence", result.stopSequence.map(Value.string) ?? .none)])),
                ("usage", Self.usage(result)),
            ])
            try await send("message_stop", [])
            try await writer.finish(nil)
        }
        return WickServer.eventStream(body)
    }

    /// An error as Anthropic sends it: `{"type": "error", "error": {"type", "message"}}`.
    static func errorBody(_ e: APIError) -> Value {
        let type = switch e.status {
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 413: "request_too_large"
        case 429: "rate_limit_error"
        case 503: "overloaded_error"
        case 400..<500: "invalid_request_error"
        default: "api_error"
        }
        return Responses.object([("type", .string("error")), ("error", Responses.object([("type", .string(type)), ("message", .string(e.message))]))])
    }

    // MARK: - The request, read into a chat completion's

    /// The Messages request as a chat completion request: `system` becomes the first message, content
    /// blocks become text, `tool_use` blocks the assistant's tool calls and `tool_result` blocks tool
    /// messages; tools, `tool_choice`, `stop_sequences`, `output_config.format` and the sampling
    /// fields (which older clients send) carry over.
    static func chatBody(_ body: Value.Object) throws -> Value.Object {
        let f = FieldReader(body)
        var chat = Value.Object()
        chat["model"] = try f.string("model").map(Value.string)
        for key in ["stream", "temperature", "top_p", "top_k", "max_tokens"] where body[key] != nil { chat[key] = body[key] }
        chat["stop"] = body["stop_sequences"]
        var messages: [Value] = []
        switch body["system"] {
        case nil, .none?: break
        case .string(let s)?: messages.append(Responses.object([("role", .string("system")), ("content", .string(s))]))
        case .array(let blocks)?:
            messages.append(Responses.object([("role", .string("system")), ("content", .string(try text(of: blocks, param: "system")))]))
        default: throw APIError.invalid("'system' must be a string or an array of text blocks.", param: "system")
        }
        guard case .array(let list)? = body["messages"], !list.isEmpty else {
            throw APIError.invalid("'messages' must be a non-empty array.", param: "messages")
        }
        for (index, item) in list.enumerated() { messages += try Self.messages(item, param: "messages[\(index)]") }
        chat["messages"] = .array(messages)
        if let tools = body["tools"], tools != .none {
            guard case .array(let list) = tools else { throw APIError.invalid("'tools' must be an array.", param: "tools") }
            chat["tools"] = .array(try list.enumerated().map { try Self.tool($0.element, param: "tools[\($0.offset)]") })
        }
        switch body["tool_choice"] {
        case nil, .none?: break
        case .object(let choice)?:
            switch choice["type"] {
            case .string("auto")?: chat["tool_choice"] = .string("auto")
            case .string("any")?: chat["tool_choice"] = .string("required")
            case .string("none")?: chat["tool_choice"] = .string("none")
            case .string("tool")?:
                guard case .string(let name)? = choice["name"] else { throw APIError.invalid("'tool_choice.name' is required for type 'tool'.", param: "tool_choice.name") }
                chat["tool_choice"] = Responses.object([("type", .string("function")), ("function", Responses.object([("name", .string(name))]))])
            default: throw APIError.invalid("'tool_choice.type' must be 'auto', 'any', 'tool' or 'none'.", param: "tool_choice.type")
            }
            if case .bool(true)? = choice["disable_parallel_tool_use"] { chat["parallel_tool_calls"] = .bool(false) }
        default: throw APIError.invalid("'tool_choice' must be an object.", param: "tool_choice")
        }
        // Structured outputs: `output_config.format` is a JSON schema the reply follows.
        if case .object(let config)? = body["output_config"], let format = config["format"], format != .none {
            guard case .object(let f) = format, case .string("json_schema")? = f["type"], let schema = f["schema"] else {
                throw APIError.invalid("'output_config.format' must be {\"type\": \"json_schema\", \"schema\": {…}}.", param: "output_config.format")
            }
            chat["response_format"] = Responses.object([("type", .string("json_schema")),
                                                        ("json_schema", Responses.object([("name", .string("output")), ("schema", schema)]))])
        }
        return chat
    }

    /// One Anthropic message as chat messages: a user's tool results become tool messages (before
    /// the rest of its text), an assistant's `tool_use` blocks its tool calls.
    static func messages(_ item: Value, param: String) throws -> [Value] {
        guard case .object(let m) = item, case .string(let role)? = m["role"], role == "user" || role == "assistant" else {
            throw APIError.invalid("\(param) must be an object whose 'role' is 'user' or 'assistant'.", param: param)
        }
        let blocks: [Value]
        switch m["content"] {
        case .string(let s)?: return [Responses.object([("role", .string(role)), ("content", .string(s))])]
        case .array(let list)?: blocks = list
        default: throw APIError.invalid("\(param).content must be a string or an array of content blocks.", param: param + ".content")
        }
        var text: [String] = [], reasoning: [String] = []
        var calls: [ToolCall] = [], results: [Value] = []
        for (index, block) in blocks.enumerated() {
            let at = "\(param).content[\(index)]"
            guard case .object(let b) = block, case .string(let type)? = b["type"] else {
                throw APIError.invalid("\(at) must be a content block with a 'type'.", param: at)
            }
            switch type {
            case "text":
                guard case .string(let t)? = b["text"] else { throw APIError.invalid("\(at).text must be a string.", param: at + ".text") }
                text.append(t)
            case "thinking":
                if case .string(let t)? = b["thinking"] { reasoning.append(t) }
            case "redacted_thinking": break
            case "tool_use" where role == "assistant":
                guard case .string(let id)? = b["id"], case .string(let name)? = b["name"] else {
                    throw APIError.invalid("\(at) must have an 'id' and a 'name'.", param: at)
                }
                let input = b["input"] ?? .object(Value.Object())
                calls.append(ToolCall(id: id, name: name, arguments: input.compactJSON))
            case "tool_result" where role == "user":
                guard case .string(let id)? = b["tool_use_id"] else { throw APIError.invalid("\(at).tool_use_id must be a string.", param: at + ".tool_use_id") }
                let content: String
                switch b["content"] {
                case nil, .none?: content = ""
                case .string(let s)?: content = s
                case .array(let parts)?: content = try Self.text(of: parts, param: at + ".content")
                default: throw APIError.invalid("\(at).content must be a string or an array of text blocks.", param: at + ".content")
                }
                results.append(Responses.object([("role", .string("tool")), ("tool_call_id", .string(id)), ("content", .string(content))]))
            default:
                throw APIError.invalid("\(at): content blocks of type '\(type)' are not supported\(type == "image" || type == "document" ? " (this server's models read text only)" : " in a \(role) message").", param: at)
            }
        }
        let message = Responses.message(role: role, content: text.joined(separator: "\n"), reasoning: reasoning.joined(separator: "\n"), calls: calls)
        return results + (text.isEmpty && calls.isEmpty && !results.isEmpty ? [] : [message])
    }

    /// An Anthropic tool (`name`, `description`, `input_schema`) as a function tool. Anthropic's own
    /// server tools (web search, code execution…) are not something a local model can run.
    static func tool(_ item: Value, param: String) throws -> Value {
        guard case .object(let t) = item, case .string(let name)? = t["name"] else {
            throw APIError.invalid("\(param) must be an object with a 'name'.", param: param)
        }
        if case .string(let type)? = t["type"], type != "custom" {
            throw APIError.invalid("\(param): tools of type '\(type)' are not supported; give client tools with an 'input_schema'.", param: param + ".type")
        }
        var function: [(String, Value)] = [("name", .string(name))]
        if let description = t["description"] { function.append(("description", description)) }
        function.append(("parameters", t["input_schema"] ?? .object(Value.Object())))
        return Responses.object([("type", .string("function")), ("function", Responses.object(function))])
    }

    /// Text blocks' text, joined.
    static func text(of blocks: [Value], param: String) throws -> String {
        try blocks.map { block in
            guard case .object(let b) = block, case .string(let t)? = b["text"] else {
                throw APIError.invalid("'\(param)' must hold text blocks only.", param: param)
            }
            return t
        }.joined(separator: "\n")
    }
}
