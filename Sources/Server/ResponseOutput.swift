import Templates

/// The output items of an OpenAI Responses API response (reasoning, message, function calls) as a
/// reply's `ChatEvent`s build them, with the stream events that say so. The JSON answer uses the
/// items; the streamed one sends the events as they come.
struct ResponseOutput {
    enum Kind: Equatable { case reasoning, message, functionCall(callID: String, name: String) }

    struct Item {
        var id: String
        var kind: Kind
        /// Reasoning or message text, or the call's arguments.
        var text = ""
        var done = false
    }

    /// A stream event: its type and its fields (without `type` and `sequence_number`).
    typealias Event = (type: String, fields: [(String, Value)])

    private(set) var items: [Item] = []

    /// Adds a reply event to the items; returns the stream events that report it.
    mutating func apply(_ event: ChatEvent) -> [Event] {
        switch event {
        case .reasoning(let text):
            return open(.reasoning, prefix: "rs") + append(text)
        case .content(let text):
            // Whitespace between calls is not a message of its own.
            if case .functionCall? = items.last?.kind, text.allSatisfy(\.isWhitespace) { return [] }
            return open(.message, prefix: "msg") + append(text)
        case .toolCallStart(_, let callID, let name):
            return closeLast() + start(Item(id: Responses.newID("fc"), kind: .functionCall(callID: callID, name: name)))
        case .toolCallArguments(_, let fragment):
            return append(fragment)
        }
    }

    /// Ends the last item (at the end of the reply).
    mutating func finish() -> [Event] { closeLast() }

    /// The items as the response's `output` lists them.
    var json: [Value] { items.map(Self.json) }

    private mutating func open(_ kind: Kind, prefix: String) -> [Event] {
        if let last = items.last, last.kind == kind, !last.done { return [] }
        return closeLast() + start(Item(id: Responses.newID(prefix), kind: kind))
    }

    private mutating func start(_ item: Item) -> [Event] {
        items.append(item)
        let index = items.count - 1
        var events: [Event] = [("response.output_item.added", [("output_index", .int(index)), ("item", Self.json(item))])]
        switch item.kind {
        case .message: events.append(("response.content_part.added", place(index) + [("part", Self.part(""))]))
        case .reasoning: events.append(("response.content_part.added", place(index) + [("part", Self.reasoningPart(""))]))
        case .functionCall: break
        }
        return events
    }

    private mutating func append(_ text: String) -> [Event] {
        guard let index = items.indices.last, !text.isEmpty else { return [] }
        items[index].text += text
        switch items[index].kind {
        case .message: return [("response.output_text.delta", place(index) + [("delta", .string(text)), ("logprobs", .array([]))])]
        case .reasoning: return [("response.reasoning_text.delta", place(index) + [("delta", .string(text))])]
        case .functionCall: return [("response.function_call_arguments.delta", [("item_id", .string(items[index].id)), ("output_index", .int(index)), ("delta", .string(text))])]
        }
    }

    private mutating func closeLast() -> [Event] {
        guard let index = items.indices.last, !items[index].done else { return [] }
        items[index].done = true
        let item = items[index]
        var events: [Event]
        switch item.kind {
        case .message:
            events = [("response.output_text.done", place(index) + [("text", .string(item.text)), ("logprobs", .array([]))]),
                      ("response.content_part.done", place(index) + [("part", Self.part(item.text))])]
        case .reasoning:
            events = [("response.reasoning_text.done", place(index) + [("text", .string(item.text))]),
                      ("response.content_part.done", place(index) + [("part", Self.reasoningPart(item.text))])]
        case .functionCall(_, let name):
            events = [("response.function_call_arguments.done", [("item_id", .string(item.id)), ("output_index", .int(index)),
                                                                 ("name", .string(name)), ("arguments", .string(item.text))])]
        }
        return events + [("response.output_item.done", [("output_index", .int(index)), ("item", Self.json(item))])]
    }

    private func place(_ index: Int) -> [(String, Value)] {
        [("item_id", .string(items[index].id)), ("output_index", .int(index)), ("content_index", .int(0))]
    }

    static func part(_ text: String) -> Value {
        Responses.object([("type", .string("output_text")), ("text", .string(text)), ("annotations", .array([])), ("logprobs", .array([]))])
    }

    static func reasoningPart(_ text: String) -> Value {
        Responses.object([("type", .string("reasoning_text")), ("text", .string(text))])
    }

    static func json(_ item: Item) -> Value {
        let status = Value.string(item.done ? "completed" : "in_progress")
        switch item.kind {
        case .reasoning:
            return Responses.object([("type", .string("reasoning")), ("id", .string(item.id)), ("summary", .array([])),
                                     ("content", .array(item.done ? [reasoningPart(item.text)] : []))])
        case .message:
            return Responses.object([("type", .string("message")), ("id", .string(item.id)), ("status", status), ("role", .string("assistant")),
                                     ("content", .array(item.done ? [part(item.text)] : []))])
        case .functionCall(let callID, let name):
            return Responses.object([("type", .string("function_call")), ("id", .string(item.id)), ("call_id", .string(callID)),
                                     ("name", .string(name)), ("arguments", .string(item.text)), ("status", status)])
        }
    }

    /// The reply as a chat assistant message, for the conversation a later `previous_response_id`
    /// continues.
    var assistantMessage: Value {
        var content = "", reasoning = ""
        var calls: [ToolCall] = []
        for item in items {
            switch item.kind {
            case .reasoning: reasoning += item.text
            case .message: content += item.text
            case .functionCall(let callID, let name): calls.append(ToolCall(id: callID, name: name, arguments: item.text))
            }
        }
        return Responses.message(role: "assistant", content: content, reasoning: reasoning, calls: calls)
    }
}
