import Templates

extension PromptBuilder {
    /// Phi-4-mini's template reads the tools from the system message's `tools` (JSON text) and has no
    /// shape for calls: the request's tools go there (in a system message put first when there is
    /// none), and an assistant turn's calls become its text, `functools[{"name": …, "arguments": …}]`.
    static func functoolsMessages(_ messages: [Value], tools: [Value]) -> [Value] {
        var out = messages.map { message -> Value in
            guard case .object(var m) = message, m["role"] == .string("assistant"), case .array(let calls)? = m["tool_calls"], !calls.isEmpty else {
                return message
            }
            let written: [Value] = calls.compactMap { call in
                guard case .object(let c) = call, case .object(let fn)? = c["function"], let name = fn["name"] else { return nil }
                var arguments = fn["arguments"] ?? .object(Value.Object([]))
                if case .string(let text) = arguments, let parsed = try? Value(jsonText: text) { arguments = parsed }
                return .object(Value.Object([("name", name), ("arguments", arguments)]))
            }
            let text: String = if case .string(let s)? = m["content"] { s } else { "" }
            m["content"] = .string(text + "functools" + Self.pythonJSON(.array(written)))
            m["tool_calls"] = nil
            return .object(m)
        }
        guard !tools.isEmpty else { return out }
        let functions: [Value] = tools.map { tool in
            if case .object(let t) = tool, let fn = t["function"] { return fn }
            return tool
        }
        let list = Value.string(Self.pythonJSON(.array(functions)))
        if case .object(var system)? = out.first, system["role"] == .string("system") {
            system["tools"] = list
            out[0] = .object(system)
        } else {
            out.insert(.object(Value.Object([("role", .string("system")), ("content", .string("")), ("tools", list)])), at: 0)
        }
        return out
    }

    /// JSON as Python's `json.dumps` writes it, as the model's own examples pass its tools.
    private static func pythonJSON(_ value: Value) -> String { (try? value.jsonText()) ?? value.compactJSON }
}
