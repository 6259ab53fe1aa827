import Engine
import Grammar
import Templates

/// Reads a gpt-oss reply in OpenAI's harmony format, piece by piece: a sequence of messages, each a
/// header (`<|channel|>NAME`, perhaps a recipient `to=functions.TOOL` and `<|constrain|>json`) up to
/// `<|message|>`, then a body up to `<|end|>` (a next message follows, after `<|start|>assistant`),
/// `<|call|>` or `<|return|>`. The `analysis` channel is reasoning, `final` and a `commentary` without
/// a recipient (a preamble) are content, a `commentary` to one of the request's functions is a tool
/// call whose body is its arguments. A reply that does not open with a header is content.
struct HarmonyReader {
    private enum Body {
        case reasoning, content
        /// A call to this tool; its arguments are gathered and checked when the body ends.
        case call(String)
    }

    let tools: Set<String>
    let parseTools: Bool
    let parallelToolCalls: Bool
    let argumentGrammars: [String: Grammar]
    /// Text not read yet: a header not complete, or the end of a body that may be a marker's beginning.
    private var pending = ""
    private var body: Body?
    private var arguments = ""
    private(set) var calls = 0

    static let messageEnds = ["<|end|>", "<|call|>", "<|return|>", "<|start|>"]

    init(tools: Set<String>, parseTools: Bool, parallelToolCalls: Bool, argumentGrammars: [String: Grammar]) {
        self.tools = tools
        self.parseTools = parseTools
        self.parallelToolCalls = parallelToolCalls
        self.argumentGrammars = argumentGrammars
    }

    mutating func feed(_ text: String) -> [ChatEvent] {
        pending += text
        var events: [ChatEvent] = []
        while true {
            guard let current = body else {
                if let header = pending.range(of: "<|message|>") {
                    body = open(String(pending[..<header.lowerBound]))
                    pending = String(pending[header.upperBound...])
                    continue
                }
                // Not a header after all (a model that writes plain text): its text is content.
                if !Self.mayBeHeader(pending) { body = .content; continue }
                return events
            }
            if let end = Self.messageEnds.compactMap({ pending.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) {
                events += emit(String(pending[..<end.lowerBound]), in: current)
                events += close(current)
                // `<|start|>` begins the next message's header; the other markers end this one.
                pending = pending[end] == "<|start|>" ? String(pending[end.lowerBound...]) : String(pending[end.upperBound...])
                body = nil
                continue
            }
            let keep = HoldBack.count(in: pending, markers: Self.messageEnds)
            events += emit(String(pending.dropLast(keep)), in: current)
            pending = String(pending.suffix(keep))
            return events
        }
    }

    /// The rest, at the end of the reply.
    mutating func finish() -> [ChatEvent] {
        let rest = pending
        pending = ""
        guard let current = body else { return rest.isEmpty ? [] : [.content(rest)] }
        body = nil
        return emit(rest, in: current) + close(current)
    }

    /// What a header opens: its channel and recipient decide.
    private func open(_ header: String) -> Body {
        let words = header.replacingOccurrences(of: "<|", with: " <|").split(whereSeparator: \.isWhitespace)
        var channel = "", recipient: Substring?
        for (i, word) in words.enumerated() {
            if word.hasPrefix("to=") { recipient = word.dropFirst(3) }
            if word.hasPrefix("<|channel|>") {
                channel = String(word.dropFirst("<|channel|>".count))
                if channel.isEmpty, i + 1 < words.count { channel = String(words[i + 1]) }
            }
        }
        if let recipient, recipient.hasPrefix("functions.") {
            let name = String(recipient.dropFirst("functions.".count))
            if parseTools && tools.contains(name) && (parallelToolCalls || calls == 0) { return .call(name) }
        }
        return channel == "analysis" ? .reasoning : .content
    }

    private mutating func emit(_ text: String, in body: Body) -> [ChatEvent] {
        guard !text.isEmpty else { return [] }
        switch body {
        case .reasoning: return [.reasoning(text)]
        case .content: return [.content(text)]
        case .call:
            arguments += text
            return []
        }
    }

    /// A call's end: its arguments, if they are a JSON object its tool takes, make it a call; other
    /// text stays content.
    private mutating func close(_ body: Body) -> [ChatEvent] {
        guard case .call(let name) = body else { return [] }
        let text = arguments
        arguments = ""
        guard let parsed = try? Value(jsonText: text), case .object = parsed, ChatStreamParser.fits(text, argumentGrammars[name]) else {
            return [.content(text)]
        }
        defer { calls += 1 }
        return [.toolCallStart(index: calls, id: ToolCall.makeID(), name: name), .toolCallArguments(index: calls, fragment: parsed.compactJSON)]
    }

    /// Whether `text` may still be (the beginning of) a message header: a harmony token or a recipient.
    static func mayBeHeader(_ text: String) -> Bool {
        let trimmed = text.drop(while: \.isWhitespace)
        return trimmed.isEmpty || ["<|", "to="].contains { trimmed.hasPrefix($0) || $0.hasPrefix(trimmed) }
    }
}
