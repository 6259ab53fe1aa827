import Engine
import Foundation
import Templates

/// OpenAI-shaped response bodies. Optional fields are left out rather than sent as null, because
/// Kibana rejects nulls where it expects a type.
enum Responses {
    static let fingerprint = "wick-" + (ProcessInfo.processInfo.environment["WICK_BUILD"] ?? "dev")

    static func object(_ pairs: [(String, Value)]) -> Value { .object(Value.Object(pairs)) }

    static func usage(_ r: GenerationResult) -> Value {
        object([
            ("prompt_tokens", .int(r.promptTokens)), ("completion_tokens", .int(r.tokens.count)),
            ("total_tokens", .int(r.promptTokens + r.tokens.count)),
            ("prompt_tokens_details", object([("cached_tokens", .int(r.reusedPromptTokens))])),
        ])
    }

    static func toolCalls(_ calls: [ToolCall]) -> Value {
        .array(calls.map { c in
            object([("id", .string(c.id)), ("type", .string("function")),
                    ("function", object([("name", .string(c.name)), ("arguments", .string(c.arguments))]))])
        })
    }

    /// A chat message as templates and OpenAI's answers take it: content null only for tool calls
    /// alone, `reasoning_content` and `tool_calls` when there are any.
    static func message(role: String, content: String, reasoning: String, calls: [ToolCall]) -> Value {
        var message: [(String, Value)] = [("role", .string(role)), ("content", calls.isEmpty || !content.isEmpty ? .string(content) : .none)]
        if !reasoning.isEmpty { message.append(("reasoning_content", .string(reasoning))) }
        if !calls.isEmpty { message.append(("tool_calls", toolCalls(calls))) }
        return object(message)
    }

    static func header(id: String, object kind: String, model: String, created: Int) -> [(String, Value)] {
        [("id", .string(id)), ("object", .string(kind)), ("created", .int(created)), ("model", .string(model)),
         ("system_fingerprint", .string(fingerprint))]
    }

    static func chunk(id: String, model: String, created: Int, delta: [(String, Value)], finish: String? = nil, logprobs: Value? = nil) -> String {
        var choice: [(String, Value)] = [("index", .int(0)), ("delta", object(delta))]
        if let logprobs { choice.append(("logprobs", logprobs)) }
        choice.append(("finish_reason", finish.map(Value.string) ?? .none))
        return event(object(header(id: id, object: "chat.completion.chunk", model: model, created: created) + [("choices", .array([object(choice)]))]))
    }

    static func event(_ v: Value) -> String { "data: " + v.compactJSON + "\n\n" }

    /// A server-sent event with a name, as the Responses and Messages APIs send them.
    static func namedEvent(_ name: String, _ v: Value) -> String { "event: " + name + "\n" + event(v) }

    static func newID(_ prefix: String) -> String {
        prefix + "-" + String((0..<24).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement()! })
    }
}

/// Splits `<think>…</think>` reasoning from the answer, for reasoning models.
struct ReasoningSplitter {
    private(set) var inReasoning: Bool
    private var pending = ""
    private var afterReasoning = false

    init(startsInReasoning: Bool) { inReasoning = startsInReasoning }

    /// Feeds text; returns (reasoning, content) parts that are final.
    mutating func feed(_ text: String) -> (reasoning: String, content: String) {
        pending += text
        var reasoning = "", content = ""
        while true {
            // The newlines after `</think>` may arrive in later pieces: drop them there too.
            if afterReasoning {
                pending = String(pending.drop(while: { $0 == "\n" }))
                if pending.isEmpty { return (reasoning, content) }
                afterReasoning = false
            }
            let tag = inReasoning ? "</think>" : "<think>"
            if let r = pending.range(of: tag) {
                let before = String(pending[..<r.lowerBound])
                if inReasoning { reasoning += before } else { content += before }
                pending = String(pending[r.upperBound...])
                inReasoning.toggle()
                afterReasoning = !inReasoning
                continue
            }
            // Keep back a possible partial tag.
            let keep = HoldBack.count(in: pending, markers: [tag])
            let ready = String(pending.dropLast(keep))
            pending = String(pending.suffix(keep))
            if inReasoning { reasoning += ready } else { content += ready }
            return (reasoning, content)
        }
    }

    mutating func flush() -> (reasoning: String, content: String) {
        defer { pending = "" }
        return inReasoning ? (pending, "") : ("", pending)
    }
}
