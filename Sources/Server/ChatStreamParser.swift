import Engine
import Grammar

/// What a chat reply is made of, as the model writes it.
enum ChatEvent: Equatable, Sendable {
    case content(String)
    case reasoning(String)
    /// A tool call begins: its position among the reply's calls, id and name.
    case toolCallStart(index: Int, id: String, name: String)
    /// A piece of that call's arguments (JSON text; the pieces of a call add up to its arguments).
    case toolCallArguments(index: Int, fragment: String)
}

/// Turns a model's text, piece by piece, into `ChatEvent`s: reasoning apart from content, and tool
/// calls out of the content. Text that may still turn out to be a call is held back until it is
/// decided. A call in the canonical shape `{"name": "NAME", "arguments": {…}}` (after the family's
/// opening tag) streams its arguments as they come where a grammar holds it (so they are sure to be
/// valid); any other call is read from the held text at the end.
struct ChatStreamParser {
    /// Which calls a grammar holds.
    enum HeldCalls: Equatable, Sendable {
        case none
        /// From the reply's first token (a forced call).
        case all
        /// Those that open with this marker (`auto`: the grammar starts at the marker).
        case opening(String)
    }

    let format: ToolCallFormat
    let tools: Set<String>
    let parseTools: Bool
    let parallelToolCalls: Bool
    let heldCalls: HeldCalls
    /// Each tool's arguments schema as a grammar: a call read from text no grammar held is a call
    /// only if its arguments fit (a tool without one takes any arguments).
    let argumentGrammars: [String: Grammar]
    private var splitter: ReasoningSplitter
    /// gpt-oss's replies are read by channel instead.
    private var harmony: HarmonyReader?
    private var held = ""
    private var holding = false
    /// The call whose arguments are streaming, and where its JSON value stands.
    private var arguments: (index: Int, scanner: JSONValueScanner)?
    /// After a streamed call: its closing text, and anything after it.
    private var afterCall = ""
    private(set) var calls = 0

    init(format: ToolCallFormat, tools: Set<String>, parseTools: Bool, parallelToolCalls: Bool, heldCalls: HeldCalls, startsInReasoning: Bool,
         argumentGrammars: [String: Grammar] = [:]) {
        self.argumentGrammars = argumentGrammars
        self.format = format
        self.tools = tools
        self.parseTools = parseTools
        self.parallelToolCalls = parallelToolCalls
        self.heldCalls = heldCalls
        splitter = ReasoningSplitter(startsInReasoning: startsInReasoning)
        if format == .harmony {
            harmony = HarmonyReader(tools: tools, parseTools: parseTools, parallelToolCalls: parallelToolCalls, argumentGrammars: argumentGrammars)
        }
    }

    mutating func feed(_ text: String) -> [ChatEvent] {
        if harmony != nil { return readHarmony { $0.feed(text) } }
        let (reasoning, content) = splitter.feed(text)
        return (reasoning.isEmpty ? [] : [.reasoning(reasoning)]) + route(content)
    }

    /// The rest, at the end of the reply: held text becomes content or calls.
    mutating func finish() -> [ChatEvent] {
        if harmony != nil { return readHarmony { $0.finish() } }
        let (reasoning, content) = splitter.flush()
        var events = (reasoning.isEmpty ? [] : [ChatEvent.reasoning(reasoning)]) + route(content)
        // A reply that ended inside streamed arguments (a token limit) has sent all there is of them.
        arguments = nil
        let rest = calls > 0 ? Self.droppingClosers(afterCall) : held
        held = ""
        afterCall = ""
        guard !rest.isEmpty else { return events }
        guard parseTools else { return events + [.content(rest)] }
        var (text, found) = format.parse(rest, tools: tools)
        if !parallelToolCalls && calls > 0 { found = [] }
        if !parallelToolCalls { found = Array(found.prefix(1)) }
        // A call with arguments its tool does not take is not passed on as one: the text stays content.
        if found.contains(where: { !fits($0) }) { found = [] }
        if found.isEmpty { text = rest }
        if !text.isEmpty && (calls == 0 || !text.allSatisfy(\.isWhitespace)) { events.append(.content(text)) }
        for call in found {
            events.append(.toolCallStart(index: calls, id: call.id, name: call.name))
            events.append(.toolCallArguments(index: calls, fragment: call.arguments))
            calls += 1
        }
        return events
    }

    private mutating func readHarmony(_ read: (inout HarmonyReader) -> [ChatEvent]) -> [ChatEvent] {
        guard var reader = harmony else { return [] }
        let events = read(&reader)
        calls = reader.calls
        harmony = reader
        return events
    }

    private mutating func route(_ content: String) -> [ChatEvent] {
        guard parseTools else { return content.isEmpty ? [] : [.content(content)] }
        if var streaming = arguments {
            let (fragment, rest) = streaming.scanner.take(content)
            arguments = rest == nil ? streaming : nil
            if let rest { afterCall += rest }
            return fragment.isEmpty ? [] : [.toolCallArguments(index: streaming.index, fragment: fragment)]
        }
        if calls > 0 {
            // After a streamed call: its closing text, read (for further calls) at the end.
            afterCall += content
            return []
        }
        held += content
        if !holding {
            let trimmed = held.drop(while: { $0.isWhitespace })
            if trimmed.isEmpty { return [] }
            if format.openingMarkers.contains(where: { trimmed.hasPrefix($0) || $0.hasPrefix(trimmed) }) {
                holding = true
            } else if let marker = held.range(of: "<tool_call>") {
                // Whitespace right before a call is not content (however the text was split).
                let before = String(held[..<marker.lowerBound].reversed().drop(while: \.isWhitespace).reversed())
                held = String(held[marker.lowerBound...])
                holding = true
                return (before.isEmpty ? [] : [.content(before)]) + route("")
            } else {
                // Held back: a possible beginning of `<tool_call>`, and the whitespace before it.
                let marker = HoldBack.count(in: held, markers: ["<tool_call>"])
                let keep = marker + held.dropLast(marker).reversed().prefix(while: \.isWhitespace).count
                let ready = String(held.dropLast(keep))
                held = String(held.suffix(keep))
                return ready.isEmpty ? [] : [.content(ready)]
            }
        }
        if !ToolCallFormat.mayBeCall(held, tools: tools) {
            // Only looked like a call: stream it, and watch for a real one further on.
            let text = held
            held = ""
            holding = false
            return [.content(text)]
        }
        guard let head = Self.canonicalHead(held), tools.contains(head.name), isHeld(head.tag) else { return [] }
        let index = calls
        calls += 1
        held = ""
        holding = false
        var scanner = JSONValueScanner()
        let (fragment, rest) = scanner.take(head.rest)
        arguments = rest == nil ? (index, scanner) : nil
        if let rest { afterCall += rest }
        return [.toolCallStart(index: index, id: ToolCall.makeID(), name: head.name)]
            + (fragment.isEmpty ? [] : [.toolCallArguments(index: index, fragment: fragment)])
    }

    private func fits(_ call: ToolCall) -> Bool { Self.fits(call.arguments, argumentGrammars[call.name]) }

    /// Whether a call's arguments (JSON text) are what its tool's schema grammar takes (any, without one).
    static func fits(_ arguments: String, _ grammar: Grammar?) -> Bool {
        guard let grammar else { return true }
        var matcher = GrammarMatcher(grammar)
        return matcher.accept(Array(arguments.utf8)) && matcher.canEnd
    }

    /// Whether a grammar holds a call that opened with `tag`.
    private func isHeld(_ tag: String?) -> Bool {
        switch heldCalls {
        case .none: return false
        case .all: return true
        case .opening(let marker): return tag == marker
        }
    }

    /// A call's beginning up to its arguments' first character: an optional opening tag, then
    /// `{"name": "NAME", "arguments": {` with any whitespace. Nil while incomplete or another shape.
    static func canonicalHead(_ text: String) -> (tag: String?, name: String, rest: Substring)? {
        var s = Substring(text).drop(while: \.isWhitespace)
        var opening: String?
        for tag in ["<tool_call>"] + ToolCallFormat.arrayMarkers where s.hasPrefix(tag) {
            s = s.dropFirst(tag.count).drop(while: \.isWhitespace)
            opening = tag
        }
        if s.hasPrefix("[") { s = s.dropFirst().drop(while: \.isWhitespace) }
        func expect(_ literal: String) -> Bool {
            guard s.hasPrefix(literal) else { return false }
            s = s.dropFirst(literal.count).drop(while: \.isWhitespace)
            return true
        }
        guard expect("{"), expect("\"name\""), expect(":"), s.hasPrefix("\"") else { return nil }
        s = s.dropFirst()
        guard let close = s.firstIndex(of: "\"") else { return nil }
        let name = String(s[..<close])
        guard !name.contains("\\") else { return nil }
        s = s[s.index(after: close)...].drop(while: \.isWhitespace)
        guard expect(","), expect("\"arguments\""), expect(":"), s.hasPrefix("{") else { return nil }
        return (opening, name, s)
    }

    /// A streamed call's closing text (the wrapper's brace, the family's closing tags) taken off.
    static func droppingClosers(_ text: String) -> String {
        var s = Substring(text).drop(while: \.isWhitespace)
        for closer in ["}", "</tool_call>", "]", "```"] {
            if s.hasPrefix(closer) { s = s.dropFirst(closer.count).drop(while: \.isWhitespace) }
        }
        return String(s)
    }
}

/// Follows one JSON value's text to its end: objects, arrays and strings (with escapes) nested.
struct JSONValueScanner {
    private var depth = 0
    private var inString = false
    private var escaped = false

    /// The part of `text` that belongs to the value, and the text after the value's end (nil: the
    /// value goes on).
    mutating func take<S: StringProtocol>(_ text: S) -> (value: String, rest: String?) {
        var index = text.startIndex
        while index < text.endIndex {
            let c = text[index]
            index = text.index(after: index)
            if inString {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
                continue
            }
            switch c {
            case "\"": inString = true
            case "{", "[": depth += 1
            case "}", "]":
                depth -= 1
                if depth == 0 { return (String(text[..<index]), String(text[index...])) }
            default: break
            }
        }
        return (String(text), nil)
    }
}
