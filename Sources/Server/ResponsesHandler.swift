import Engine
import Foundation
import Hummingbird
import Templates

/// OpenAI's Responses API (`POST /v1/responses`): input items and instructions are read into a chat
/// request (continuing a kept conversation when `previous_response_id` names one), the reply becomes
/// output items (reasoning, message, function calls), answered as one response object or as its
/// stream of `response.*` events.
struct ResponsesHandler: Sendable {
    let model: ChatModel
    let store: ResponseStore
    var scheduler: any InferenceScheduler

    init(model: ChatModel, store: ResponseStore, scheduler: (any InferenceScheduler)? = nil) {
        self.model = model
        self.store = store
        self.scheduler = scheduler ?? model
    }

    /// What every state of one response repeats: its identity and the request's settings.
    struct Envelope: Sendable {
        var id: String
        var createdAt: Int
        var model: String
        var settings: [(String, Value)]

        func body(status: String, output: [Value], usage: Value = .none, details: Value = .none, error: Value = .none) -> Value {
            Responses.object([("id", .string(id)), ("object", .string("response")), ("created_at", .int(createdAt)), ("status", .string(status)),
                              ("error", error), ("incomplete_details", details), ("model", .string(model)), ("output", .array(output))]
                             + settings + [("usage", usage)])
        }
    }

    func handle(body: Value.Object) async throws -> Response {
        let (chat, conversation) = try Self.chatBody(body, store: store)
        let request = try ChatRequest(body: chat, chat: true)
        let turn = try ChatTurn(request: request, model: model, scheduler: scheduler)
        let keep = (try FieldReader(body).bool("store")) ?? true
        let envelope = Envelope(id: Responses.newID("resp"), createdAt: Int(Date().timeIntervalSince1970), model: model.id,
                                settings: Self.settings(body, request: request))
        let store = self.store
        /// The finished response, kept for `previous_response_id` unless the request said `store: false`.
        @Sendable func finished(_ result: GenerationResult, _ output: ResponseOutput) -> Value {
            let incomplete = result.finishReason == .length
            let response = envelope.body(status: incomplete ? "incomplete" : "completed", output: output.json, usage: Self.usage(result),
                                         details: incomplete ? Responses.object([("reason", .string("max_output_tokens"))]) : .none)
            if keep { store.keep(envelope.id, response: response, messages: conversation + [output.assistantMessage]) }
            return response
        }
        if request.stream { return stream(turn, envelope, finished) }
        var output = ResponseOutput()
        let (result, _) = try await turn.run { event in
            switch event {
            case .keepAlive: break
            case .failed(let e): throw e
            case .reply(let e, _): _ = output.apply(e)
            }
        }
        _ = output.finish()
        guard let result else { throw APIError.internalError() }
        return WickServer.json(finished(result, output))
    }

    private func stream(_ turn: ChatTurn, _ envelope: Envelope, _ finished: @escaping @Sendable (GenerationResult, ResponseOutput) -> Value) -> Response {
        let body = ResponseBody { writer in
            var sequence = 0
            func send(_ type: String, _ fields: [(String, Value)]) async throws {
                let event = Responses.object([("type", .string(type)), ("sequence_number", .int(sequence))] + fields)
                sequence += 1
                try await writer.write(ByteBuffer(string: Responses.namedEvent(type, event)))
            }
            let started = envelope.body(status: "in_progress", output: [])
            try await send("response.created", [("response", started)])
            try await send("response.in_progress", [("response", started)])
            var output = ResponseOutput()
            var failure: APIError?
            let (result, _) = try await turn.run { event in
                switch event {
                case .keepAlive: try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                case .failed(let e): failure = e
                case .reply(let e, _): for (type, fields) in output.apply(e) { try await send(type, fields) }
                }
            }
            for (type, fields) in output.finish() { try await send(type, fields) }
            if let result, failure == nil {
                let response = finished(result, output)
                let status = if case .string("incomplete")? = Self.field("status", of: response) { "response.incomplete" } else { "response.completed" }
                try await send(status, [("response", response)])
            } else {
                let error = failure ?? APIError.internalError("The generation ended unexpectedly.")
                try await send("response.failed", [("response", envelope.body(status: "failed", output: output.json, error: Responses.object([
                    ("code", .string(error.code ?? "server_error")), ("message", .string(error.message))])))])
            }
            try await writer.finish(nil)
        }
        return WickServer.eventStream(body)
    }

    private static func field(_ key: String, of value: Value) -> Value? {
        if case .object(let o) = value { return o[key] }
        return nil
    }

    static func usage(_ r: GenerationResult) -> Value {
        Responses.object([
            ("input_tokens", .int(r.promptTokens)), ("input_tokens_details", Responses.object([("cached_tokens", .int(r.reusedPromptTokens))])),
            ("output_tokens", .int(r.tokens.count)), ("output_tokens_details", Responses.object([("reasoning_tokens", .int(0))])),
            ("total_tokens", .int(r.promptTokens + r.tokens.count)),
        ])
    }

    /// The request's settings as a response repeats them.
    static func settings(_ body: Value.Object, request: ChatRequest) -> [(String, Value)] {
        [("instructions", body["instructions"] ?? .none), ("max_output_tokens", body["max_output_tokens"] ?? .none),
         ("parallel_tool_calls", .bool(request.parallelToolCalls)), ("previous_response_id", body["previous_response_id"] ?? .none),
         ("reasoning", Responses.object([("effort", .none), ("summary", .none)])), ("store", body["store"] ?? .bool(true)),
         ("temperature", .double(Double(request.sampling.temperature))), ("top_p", .double(Double(request.sampling.topP))),
         ("text", body["text"] ?? Responses.object([("format", Responses.object([("type", .string("text"))]))])),
         ("tool_choice", body["tool_choice"] ?? .string(request.tools.isEmpty ? "none" : "auto")), ("tools", body["tools"] ?? .array([])),
         ("truncation", .string("disabled")), ("metadata", body["metadata"] ?? Responses.object([]))]
    }

    // MARK: - The request, read into a chat completion's

    /// The Responses request as a chat completion request, and the conversation it makes (without
    /// `instructions`, which a continuing request gives anew).
    static func chatBody(_ body: Value.Object, store: ResponseStore) throws -> (chat: Value.Object, conversation: [Value]) {
        let f = FieldReader(body)
        var chat = Value.Object()
        chat["model"] = try f.string("model").map(Value.string)
        for key in ["stream", "temperature", "top_p", "top_k", "min_p", "seed", "parallel_tool_calls"] where body[key] != nil { chat[key] = body[key] }
        chat["max_tokens"] = body["max_output_tokens"]
        var conversation: [Value] = []
        if let previous = try f.string("previous_response_id") {
            guard let kept = store.messages(previous) else {
                throw APIError.notFound("Previous response with id '\(previous)' not found.", param: "previous_response_id", code: "previous_response_not_found")
            }
            conversation = kept
        }
        switch body["input"] {
        case .string(let text)?: conversation.append(Responses.object([("role", .string("user")), ("content", .string(text))]))
        case .array(let items)?: conversation += try messages(items)
        default: throw APIError.invalid("'input' must be a string or an array of input items.", param: "input")
        }
        let instructions = try f.string("instructions")
        chat["messages"] = .array((instructions.map { [Responses.object([("role", .string("system")), ("content", .string($0))])] } ?? []) + conversation)
        if let tools = body["tools"], tools != .none {
            guard case .array(let list) = tools else { throw APIError.invalid("'tools' must be an array.", param: "tools") }
            chat["tools"] = .array(try list.enumerated().map { try tool($0.element, param: "tools[\($0.offset)]") })
        }
        switch body["tool_choice"] {
        case nil, .none?: break
        case .string(let choice)?: chat["tool_choice"] = .string(choice)
        case .object(let choice)?:
            guard case .string("function")? = choice["type"], case .string(let name)? = choice["name"] else {
                throw APIError.invalid("'tool_choice' must be 'none', 'auto', 'required' or {\"type\": \"function\", \"name\": …}.", param: "tool_choice")
            }
            chat["tool_choice"] = Responses.object([("type", .string("function")), ("function", Responses.object([("name", .string(name))]))])
        default: throw APIError.invalid("'tool_choice' must be a string or an object.", param: "tool_choice")
        }
        if case .object(let text)? = body["text"], case .object(var format)? = text["format"] {
            // Responses puts the schema's name, schema and strictness beside `type`; chat nests them.
            if case .string("json_schema")? = format["type"] {
                var spec = Value.Object()
                for key in ["name", "schema", "strict", "description"] { spec[key] = format[key] }
                format = Value.Object([("type", .string("json_schema")), ("json_schema", .object(spec))])
            }
            chat["response_format"] = .object(format)
        }
        return (chat, conversation)
    }

    /// Input items as chat messages: messages, the model's earlier function calls (folded into the
    /// assistant message they follow) and their outputs (tool messages). Reasoning items are the
    /// model's own and are left out.
    static func messages(_ items: [Value]) throws -> [Value] {
        var messages: [Value.Object] = []
        for (index, item) in items.enumerated() {
            let param = "input[\(index)]"
            guard case .object(let o) = item else { throw APIError.invalid("\(param) must be an object.", param: param) }
            let type: String
            switch o["type"] {
            case .string(let t)?: type = t
            case nil where o["role"] != nil: type = "message"
            default: throw APIError.invalid("\(param) must have a 'type' or a 'role'.", param: param)
            }
            let reader = FieldReader(o, prefix: param + ".")
            switch type {
            case "message":
                guard let role = try reader.string("role"), ["user", "assistant", "system", "developer"].contains(role) else {
                    throw APIError.invalid("\(param).role must be 'user', 'assistant', 'system' or 'developer'.", param: param + ".role")
                }
                messages.append(Value.Object([("role", .string(role == "developer" ? "system" : role)), ("content", .string(try text(o["content"], param: param + ".content")))]))
            case "function_call":
                guard let callID = try reader.string("call_id"), let name = try reader.string("name") else {
                    throw APIError.invalid("\(param) must have a 'call_id' and a 'name'.", param: param)
                }
                let call = Responses.object([("id", .string(callID)), ("type", .string("function")),
                                             ("function", Responses.object([("name", .string(name)), ("arguments", .string(try reader.string("arguments") ?? "{}"))]))])
                if var last = messages.last, case .string("assistant")? = last["role"] {
                    var calls: [Value] = []
                    if case .array(let earlier)? = last["tool_calls"] { calls = earlier }
                    last["tool_calls"] = .array(calls + [call])
                    if case .string("")? = last["content"] { last["content"] = Value.none }
                    messages[messages.count - 1] = last
                } else {
                    messages.append(Value.Object([("role", .string("assistant")), ("content", .none), ("tool_calls", .array([call]))]))
                }
            case "function_call_output":
                guard let callID = try reader.string("call_id") else { throw APIError.invalid("\(param).call_id must be a string.", param: param + ".call_id") }
                messages.append(Value.Object([("role", .string("tool")), ("tool_call_id", .string(callID)), ("content", .string(try text(o["output"], param: param + ".output")))]))
            case "reasoning": break
            default:
                throw APIError.invalid("\(param): input items of type '\(type)' are not supported.", param: param + ".type")
            }
        }
        return messages.map(Value.object)
    }

    /// A message's content as text: a string, or its text parts joined.
    static func text(_ content: Value?, param: String) throws -> String {
        switch content {
        case nil, .none?: return ""
        case .string(let s)?: return s
        case .array(let parts)?:
            return try parts.map { part in
                guard case .object(let p) = part, case .string(let type)? = p["type"] else {
                    throw APIError.invalid("\(param) parts must be objects with a 'type'.", param: param)
                }
                switch (type, p["text"], p["refusal"]) {
                case ("input_text", .string(let t)?, _), ("output_text", .string(let t)?, _), ("text", .string(let t)?, _), ("refusal", _, .string(let t)?): return t
                default: throw APIError.invalid("\(param): content parts of type '\(type)' are not supported (this server's models read text only).", param: param)
                }
            }.joined(separator: "\n")
        default: throw APIError.invalid("\(param) must be a string or an array of content parts.", param: param)
        }
    }

    /// A Responses function tool (`name`, `parameters` beside `type`) as a chat tool.
    static func tool(_ item: Value, param: String) throws -> Value {
        guard case .object(let t) = item, case .string(let type)? = t["type"] else { throw APIError.invalid("\(param) must be an object with a 'type'.", param: param) }
        guard type == "function", case .string(let name)? = t["name"] else {
            throw APIError.invalid("\(param): tools of type '\(type)' are not supported; give function tools with a 'name'.", param: param)
        }
        var function: [(String, Value)] = [("name", .string(name))]
        if let description = t["description"] { function.append(("description", description)) }
        if let parameters = t["parameters"] { function.append(("parameters", parameters)) }
        return Responses.object([("type", .string("function")), ("function", Responses.object(function))])
    }
}
