import Engine
import Grammar
import Templates

extension ToolCallFormat {
    /// The tags around a call in this format, and the marker that begins a call unambiguously
    /// (so that it can switch the grammar on in the middle of a free reply).
    private var tags: (open: String, close: String, marker: String?) {
        switch self {
        case .hermes: return ("<tool_call>\n", "\n</tool_call>", "<tool_call>")
        case .mistral: return ("[TOOL_CALLS][", "]", "[TOOL_CALLS]")
        case .functools: return ("functools[", "]", "functools[")
        case .json: return ("", "", nil)
        case .harmony: return (Self.harmonyCallOpening, "", nil)
        }
    }

    /// The grammar of a call to one of `tools` (each `(name, parameters schema)`): the format's
    /// tags around `{"name": "NAME", "arguments": ARGUMENTS}`, the name one of the tools' and the
    /// arguments held to that tool's schema. `required`/named: from the reply's first byte (the
    /// forced opening already in the prompt is its prefix); `auto`: from the opening tag on, in
    /// formats that have one (else nil: the reply stays free).
    func callGrammar(tools: [(name: String, parameters: Value)], choice: ChatRequest.ToolChoice, forcedReply: String) throws -> ReplyGrammar? {
        let tags = self.tags
        if choice == .none || (choice == .auto && tags.marker == nil) { return nil }
        var grammar = Grammar()
        var calls: [Grammar.NodeID] = []
        for (index, tool) in tools.enumerated() {
            if case .named(let name) = choice, name != tool.name { continue }
            let arguments: Grammar.NodeID
            do {
                arguments = try JSONSchemaCompiler.compile(tool.parameters, into: &grammar, location: "tools[\(index)].function.parameters")
            } catch let error as SchemaError {
                throw APIError.invalid(error.message, param: "tools[\(index)].function.parameters")
            }
            if self == .harmony {
                // The header's rest, then the arguments alone (`<|call|>` ends the reply).
                calls.append(grammar.add(.sequence([grammar.literal(Self.harmonyArgumentsOpening(tool.name)), arguments])))
                continue
            }
            let head = grammar.literal("{\"name\": " + Value.string(tool.name).compactJSON + ", \"arguments\": ")
            let close = grammar.literal("}")
            calls.append(grammar.add(.sequence([head, arguments, close])))
        }
        guard !calls.isEmpty else { return nil }
        let call = grammar.add(.choice(calls))
        var parts = [call]
        if !tags.open.isEmpty { parts.insert(grammar.literal(tags.open), at: 0) }
        if !tags.close.isEmpty { parts.append(grammar.literal(tags.close)) }
        grammar.root = parts.count == 1 ? call : grammar.add(.sequence(parts))
        return choice == .auto ? ReplyGrammar(grammar: grammar, trigger: tags.marker, isToolCall: true)
                               : ReplyGrammar(grammar: grammar, prefix: forcedReply, isToolCall: true)
    }
}
