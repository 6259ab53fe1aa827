import Grammar
import Templates
import Testing
import TestSupport
@testable import Server

/// The one parser of a reply's text: content, reasoning and tool calls, the same however the text
/// is split into pieces; a grammar-held call's arguments stream as they come.
struct ChatStreamParserTests {
    static let tools: Set<String> = ["get_weather", "search"]
    static let arguments = #"{"city": "Par\"is}", "n": [1, {"a": 2}], "s": "]}"}"#
    static let call = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": \(arguments)}\n</tool_call>"

    static func parser(streams: Bool, format: ToolCallFormat = .hermes) -> ChatStreamParser {
        ChatStreamParser(format: format, tools: tools, parseTools: true, parallelToolCalls: true, heldCalls: streams ? .all : .none, startsInReasoning: false)
    }

    /// Feeds `text` in pieces of the given lengths (cycled) and returns the events of each feed and the finish.
    static func run(_ parser: ChatStreamParser, _ text: String, pieces: [Int]) -> [[ChatEvent]] {
        var p = parser, rest = Substring(text), out: [[ChatEvent]] = [], i = 0
        while !rest.isEmpty {
            let n = pieces[i % pieces.count]
            out.append(p.feed(String(rest.prefix(n))))
            rest = rest.dropFirst(n)
            i += 1
        }
        out.append(p.finish())
        return out
    }

    /// Events with consecutive pieces of the same kind joined.
    static func merged(_ events: [ChatEvent]) -> [ChatEvent] {
        var out: [ChatEvent] = []
        for e in events {
            switch (out.last, e) {
            case (.content(let a)?, .content(let b)): out[out.count - 1] = .content(a + b)
            case (.reasoning(let a)?, .reasoning(let b)): out[out.count - 1] = .reasoning(a + b)
            case (.toolCallArguments(let i, let a)?, .toolCallArguments(let j, let b)) where i == j: out[out.count - 1] = .toolCallArguments(index: i, fragment: a + b)
            default: out.append(e)
            }
        }
        return out.map { if case .toolCallStart(let i, _, let n) = $0 { return .toolCallStart(index: i, id: "", name: n) }; return $0 }
    }

    @Test func aHeldCallStreamsItsArgumentsAsTheyCome() {
        let feeds = Self.run(Self.parser(streams: true), Self.call, pieces: [3])
        let all = feeds.flatMap { $0 }
        #expect(Self.merged(all) == [.toolCallStart(index: 0, id: "", name: "get_weather"), .toolCallArguments(index: 0, fragment: Self.arguments)])
        // The arguments came over many feeds, not at the end.
        let feedsWithArguments = feeds.dropLast().filter { $0.contains { if case .toolCallArguments = $0 { return true }; return false } }
        #expect(feedsWithArguments.count > 10)
    }

    @Test func theSameEventsHoweverTheTextIsSplit() {
        let text = "<think>plan {x}</think>\n\nSure, here: " + Self.call
        var rng = SplitMix(seed: 5)
        for streams in [true, false] {
            let whole = Self.merged(Self.run(Self.parser(streams: streams), text, pieces: [text.count]).flatMap { $0 })
            #expect(whole.first == .reasoning("plan {x}"))
            #expect(whole.contains(.content("Sure, here:")))
            for _ in 0..<20 {
                let pieces = (0..<5).map { _ in Int.random(in: 1...9, using: &rng) }
                #expect(Self.merged(Self.run(Self.parser(streams: streams), text, pieces: pieces).flatMap { $0 }) == whole, "\(pieces)")
            }
        }
    }

    @Test func unheldCallsAreReadWholeAtTheEnd() {
        let feeds = Self.run(Self.parser(streams: false), Self.call, pieces: [4])
        #expect(feeds.dropLast().allSatisfy { $0.isEmpty })
        #expect(Self.merged(feeds.last ?? []) == [.toolCallStart(index: 0, id: "", name: "get_weather"),
                                                 .toolCallArguments(index: 0, fragment: #"{"city":"Par\"is}","n":[1,{"a":2}],"s":"]}"}"#)])
    }

    @Test func anUnheldCallWhoseArgumentsDoNotFitItsToolIsContent() throws {
        var grammar = Grammar()
        grammar.root = try JSONSchemaCompiler.compile(try Value(jsonText: #"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"#),
                                                      into: &grammar, location: "parameters")
        func parser() -> ChatStreamParser {
            ChatStreamParser(format: .hermes, tools: Self.tools, parseTools: true, parallelToolCalls: true, heldCalls: .none,
                             startsInReasoning: false, argumentGrammars: ["get_weather": grammar])
        }
        let bare = #"{"name": "get_weather", "arguments": {}}"#
        #expect(Self.merged(Self.run(parser(), bare, pieces: [5]).flatMap { $0 }) == [.content(bare)])
        let fits = #"{"name": "get_weather", "arguments": {"city": "Oslo"}}"#
        #expect(Self.merged(Self.run(parser(), fits, pieces: [5]).flatMap { $0 }).first == .toolCallStart(index: 0, id: "", name: "get_weather"))
    }

    @Test func textThatOnlyLooksLikeACallIsContent() {
        for streams in [true, false] {
            let text = #"{"answer": 42} and more"#
            #expect(Self.merged(Self.run(Self.parser(streams: streams, format: .json), text, pieces: [2]).flatMap { $0 }) == [.content(text)])
        }
    }

    @Test func forcedJSONCallsAndParallelCalls() {
        let json = #"{"name": "search", "arguments": {"q": "cats"}}"#
        #expect(Self.merged(Self.run(Self.parser(streams: true, format: .json), json, pieces: [5]).flatMap { $0 })
                == [.toolCallStart(index: 0, id: "", name: "search"), .toolCallArguments(index: 0, fragment: #"{"q": "cats"}"#)])
        // A second call after a streamed one is read at the end, as the next index.
        let two = Self.call + "\n" + "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": 1}}\n</tool_call>"
        let events = Self.merged(Self.run(Self.parser(streams: true), two, pieces: [6]).flatMap { $0 })
        #expect(events.count == 4 && events[2] == .toolCallStart(index: 1, id: "", name: "search"))
    }

    @Test func withATriggerOnlyCallsOpenedByItStream() {
        var lazy = ChatStreamParser(format: .hermes, tools: Self.tools, parseTools: true, parallelToolCalls: true, heldCalls: .opening("<tool_call>"), startsInReasoning: false)
        // A bare call was not held to the grammar (the trigger never came): read whole at the end, if valid.
        let bare = #"{"name": "get_weather", "arguments": {"city": "Paris"}}"# + "\n{\"x\": 1}"
        #expect(Self.merged(lazy.feed(bare)).isEmpty)
        #expect(Self.merged(lazy.finish()) == [.content(bare)])
        let tagged = Self.run(ChatStreamParser(format: .hermes, tools: Self.tools, parseTools: true, parallelToolCalls: true,
                                               heldCalls: .opening("<tool_call>"), startsInReasoning: false), Self.call, pieces: [8])
        #expect(tagged.dropLast().flatMap { $0 }.filter { if case .toolCallArguments = $0 { return true }; return false }.count > 3)
    }

    @Test func phiCallsStreamAfterFunctools() {
        let text = #"functools[{"name": "search", "arguments": {"q": "cats"}}]"#
        // Held by a grammar, as the model writes it; else read whole at the end (arguments made compact).
        for (streams, arguments) in [(true, #"{"q": "cats"}"#), (false, #"{"q":"cats"}"#)] {
            #expect(Self.merged(Self.run(Self.parser(streams: streams, format: .functools), text, pieces: [4]).flatMap { $0 })
                    == [.toolCallStart(index: 0, id: "", name: "search"), .toolCallArguments(index: 0, fragment: arguments)])
        }
        // Opened by the grammar's trigger, the call streams before the reply ends.
        let lazy = ChatStreamParser(format: .functools, tools: Self.tools, parseTools: true, parallelToolCalls: true,
                                    heldCalls: .opening("functools["), startsInReasoning: false)
        #expect(Self.run(lazy, text, pieces: [4]).dropLast().flatMap { $0 }.contains { if case .toolCallStart = $0 { return true }; return false })
    }

    @Test func aCallToAnUnknownToolStaysContent() {
        let text = "<tool_call>\n{\"name\": \"delete_all\", \"arguments\": {}}\n</tool_call>"
        #expect(Self.merged(Self.run(Self.parser(streams: true), text, pieces: [7]).flatMap { $0 }) == [.content(text)])
    }
}
