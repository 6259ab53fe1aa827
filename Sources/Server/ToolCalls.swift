import Foundation
import Templates

/// A tool call found in a model's reply.
struct ToolCall: Equatable {
    var id: String
    var name: String
    /// The arguments as compact JSON text.
    var arguments: String
}

/// Reads tool calls out of generated text, in the format of the model's family (chosen from its chat
/// template), with a fallback for small models that drop their family's tags and answer with a bare
/// JSON object naming one of the request's tools.
enum ToolCallFormat: Equatable {
    /// Qwen / Hermes: `<tool_call>{"name": …, "arguments": …}</tool_call>`.
    case hermes
    /// Mistral: `[TOOL_CALLS][{"name": …, "arguments": …}, …]`.
    case mistral
    /// Llama 3.x and templates without tool markup: a JSON object with `name` and `arguments`/`parameters`.
    case json
    /// gpt-oss: harmony messages, a call a `commentary` message to `functions.NAME` (`HarmonyReader`).
    case harmony
    /// Phi-4-mini: `functools[{"name": …, "arguments": …}, …]`, its tools in the system message
    /// between `<|tool|>` and `<|/tool|>`.
    case functools

    init(template: String) {
        if template.contains("<|channel|>") { self = .harmony }
        else if template.contains("<tool_call>") { self = .hermes }
        else if template.contains("[TOOL_CALLS]") { self = .mistral }
        else if template.contains("<|tool|>") && template.contains("<|/tool|>") { self = .functools }
        else { self = .json }
    }

    /// The markers that open the families' JSON arrays of calls (Phi's ends with the array's `[`).
    static let arrayMarkers = ["[TOOL_CALLS]", "functools["]

    /// Text that may begin a tool call, to be held back from the content stream until it is decided.
    var openingMarkers: [String] {
        switch self {
        case .hermes: return ["<tool_call>", "{", "```"]
        case .mistral: return ["[TOOL_CALLS]", "{", "[", "```"]
        case .functools: return ["functools[", "{", "[", "```"]
        case .json: return ["{", "```", "<tool_call>"]
        case .harmony: return []
        }
    }

    /// The start of a reply that `tool_choice` forces: a call to one of the tools, or to the named
    /// one. The model writes the rest (the name, or the arguments).
    func forcedOpening(_ choice: ChatRequest.ToolChoice) -> String? {
        let start = switch self {
        case .hermes: "<tool_call>\n{\"name\": \""
        case .mistral: "[TOOL_CALLS][{\"name\": \""
        case .functools: "functools[{\"name\": \""
        case .json: "{\"name\": \""
        case .harmony: Self.harmonyCallOpening
        }
        switch choice {
        case .none, .auto: return nil
        case .required: return start
        case .named(let name): return start + (self == .harmony ? Self.harmonyArgumentsOpening(name) : Self.nameAndArgumentsOpening(name))
        }
    }

    /// Whether text held back from a reply may still turn out to be a tool call: false as soon as it
    /// cannot (its first key is not `name`, `function` or `type`, or its name is no tool's beginning),
    /// so a reply that merely starts like JSON streams as content without waiting for its end.
    static func mayBeCall(_ text: String, tools: Set<String>) -> Bool {
        var rest = Substring(text).drop(while: \.isWhitespace)
        func skip(_ prefix: String) -> Bool? {
            if rest.hasPrefix(prefix) { rest = rest.dropFirst(prefix.count).drop(while: \.isWhitespace); return true }
            return prefix.hasPrefix(rest) ? nil : false  // nil: too short to tell
        }
        for opener in ["```json", "```", "<tool_call>"] + arrayMarkers + ["["] {
            switch skip(opener) {
            case nil: return true
            case true?: break
            case false?: continue
            }
        }
        guard let brace = skip("{") else { return true }
        guard brace else { return false }
        guard let quote = skip("\"") else { return true }
        guard quote else { return false }
        guard let keyEnd = rest.firstIndex(of: "\"") else {
            return ["name", "function", "type"].contains { $0.hasPrefix(rest) }
        }
        let key = rest[..<keyEnd]
        guard key == "name" else { return key == "function" || key == "type" }
        rest = rest[rest.index(after: keyEnd)...].drop(while: \.isWhitespace)
        guard let colon = skip(":") else { return true }
        guard colon, let open = skip("\"") else { return colon }
        guard open else { return false }
        let name = rest.prefix { $0 != "\"" }
        return name.count < rest.count ? tools.contains(String(name)) : tools.contains { $0.hasPrefix(name) }
    }

    /// A harmony call's header up to its tool's name.
    static let harmonyCallOpening = "<|channel|>commentary to=functions."
    /// What follows `to=functions.` in a harmony call: the name, then the header's end.
    static func harmonyArgumentsOpening(_ name: String) -> String { name + " <|constrain|>json<|message|>" }

    /// What follows the opening quote of a forced call's name: the name, then the arguments' `{`.
    static func nameAndArgumentsOpening(_ name: String) -> String {
        Value.string(name).compactJSON.dropFirst() + ", \"arguments\": {"
    }

    /// Splits a complete reply into content and tool calls. Calls must name one of `tools`.
    func parse(_ text: String, tools: Set<String>) -> (content: String, calls: [ToolCall]) {
        var calls: [ToolCall] = []
        var content = text
        if self == .hermes || text.contains("<tool_call>") {
            var rest = Substring(text)
            var kept = ""
            while let open = rest.range(of: "<tool_call>") {
                kept += rest[..<open.lowerBound]
                let after = rest[open.upperBound...]
                let close = after.range(of: "</tool_call>")
                let body = close.map { after[..<$0.lowerBound] } ?? after
                if let call = Self.call(fromJSON: String(body), tools: tools, index: calls.count) { calls.append(call) }
                else { kept += rest[open.lowerBound..<(close?.upperBound ?? rest.endIndex)] }
                rest = close.map { after[$0.upperBound...] } ?? ""
            }
            kept += rest
            content = kept
        }
        if calls.isEmpty, let start = Self.arrayMarkers.lazy.compactMap({ text.range(of: $0) }).first {
            let bodyStart = text[start].hasSuffix("[") ? text.index(before: start.upperBound) : start.upperBound
            let body = String(text[bodyStart...]).trimmingCharacters(in: .whitespacesAndNewlines)
            if case .array(let items)? = try? Value(jsonText: body) {
                for item in items { if let c = Self.call(from: item, tools: tools, index: calls.count) { calls.append(c) } }
            } else if let c = Self.call(fromJSON: body, tools: tools, index: 0) {
                calls.append(c)
            }
            if !calls.isEmpty { content = String(text[..<start.lowerBound]) }
        }
        if calls.isEmpty {
            // A reply that is only a JSON object (perhaps in a code fence) naming a tool is a call.
            var body = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if body.hasPrefix("```") {
                body = String(body.drop(while: { $0 != "\n" })).trimmingCharacters(in: .whitespacesAndNewlines)
                if body.hasSuffix("```") { body = String(body.dropLast(3)).trimmingCharacters(in: .whitespacesAndNewlines) }
            }
            if body.hasPrefix("{"), let c = Self.call(fromJSON: body, tools: tools, index: 0) {
                calls.append(c)
                content = ""
            } else if body.hasPrefix("["), case .array(let items)? = try? Value(jsonText: body) {
                let found = items.compactMap { Self.call(from: $0, tools: tools, index: 0) }
                if !found.isEmpty && found.count == items.count {
                    calls = found.enumerated().map { var c = $0.element; c.id = ToolCall.makeID(); return c }
                    content = ""
                }
            }
        }
        return (content.trimmingCharacters(in: .whitespacesAndNewlines), calls)
    }

    static func call(fromJSON text: String, tools: Set<String>, index: Int) -> ToolCall? {
        guard let v = try? Value(jsonText: text.trimmingCharacters(in: .whitespacesAndNewlines)) else { return nil }
        return call(from: v, tools: tools, index: index)
    }

    static func call(from v: Value, tools: Set<String>, index: Int) -> ToolCall? {
        guard case .object(var o) = v else { return nil }
        if case .object(let fn)? = o["function"] { o = fn }  // {"type":"function","function":{…}}
        guard case .string(let name)? = o["name"], tools.contains(name) else { return nil }
        // Arguments are an object, or a string holding one; anything else is not a call.
        switch o["arguments"] ?? o["parameters"] ?? .object(Value.Object()) {
        case .object(let arguments): return ToolCall(id: ToolCall.makeID(), name: name, arguments: Value.object(arguments).compactJSON)
        case .string(let text):
            guard case .object? = try? Value(jsonText: text) else { return nil }
            return ToolCall(id: ToolCall.makeID(), name: name, arguments: text)
        default: return nil
        }
    }
}

extension ToolCall {
    static func makeID() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return "call_" + String((0..<24).map { _ in alphabet.randomElement()! })
    }
}
