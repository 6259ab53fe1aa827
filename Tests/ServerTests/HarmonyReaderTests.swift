import Grammar
import Templates
import Testing
import TestSupport
@testable import Server

/// gpt-oss's harmony replies, written by hand as the model writes them, read into reasoning,
/// content and tool calls — the same however the text is split.
struct HarmonyReaderTests {
    typealias Run = ChatStreamParserTests

    static func parser(parseTools: Bool = true, parallel: Bool = true, grammars: [String: Grammar] = [:]) -> ChatStreamParser {
        ChatStreamParser(format: .harmony, tools: Run.tools, parseTools: parseTools, parallelToolCalls: parallel, heldCalls: .none,
                         startsInReasoning: false, argumentGrammars: grammars)
    }

    /// The events of `text` fed whole, one character at a time, and in random pieces: all equal.
    static func read(_ text: String, _ parser: ChatStreamParser = parser()) -> [ChatEvent] {
        let whole = Run.merged(Run.run(parser, text, pieces: [text.count]).flatMap { $0 })
        #expect(Run.merged(Run.run(parser, text, pieces: [1]).flatMap { $0 }) == whole)
        var rng = SplitMix(seed: 11)
        for _ in 0..<20 {
            let pieces = (0..<7).map { _ in 1 + Int(rng.next() % 9) }
            #expect(Run.merged(Run.run(parser, text, pieces: pieces).flatMap { $0 }) == whole, "pieces \(pieces)")
        }
        return whole
    }

    @Test func analysisIsReasoningAndFinalIsContent() {
        let text = "<|channel|>analysis<|message|>The user greets; answer briefly.<|end|><|start|>assistant<|channel|>final<|message|>Hello! How can I help?"
        #expect(Self.read(text) == [.reasoning("The user greets; answer briefly."), .content("Hello! How can I help?")])
    }

    @Test(arguments: [
        // As gpt-oss writes a call: the recipient after the channel, the arguments constrained to JSON.
        "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\": \"Paris\", \"unit\": \"c\"}",
        // As its template renders one: the recipient in the header's role part.
        "<|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>{\"city\":\"Paris\",\"unit\":\"c\"}",
    ])
    func aCommentaryToAFunctionIsAToolCall(call: String) {
        let text = "<|channel|>analysis<|message|>Need the weather tool.<|end|>" + call
        #expect(Self.read(text) == [.reasoning("Need the weather tool."), .toolCallStart(index: 0, id: "", name: "get_weather"),
                                    .toolCallArguments(index: 0, fragment: #"{"city":"Paris","unit":"c"}"#)])
    }

    @Test func aPreambleIsContentAndSeveralCallsAreNumbered() {
        let text = "<|channel|>commentary<|message|>Checking two things.<|end|>"
            + "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\":\"Oslo\"}<|call|>"
            + "<|start|>assistant<|channel|>commentary to=functions.search <|constrain|>json<|message|>{\"q\":\"x\"}"
        #expect(Self.read(text) == [.content("Checking two things."),
                                    .toolCallStart(index: 0, id: "", name: "get_weather"), .toolCallArguments(index: 0, fragment: #"{"city":"Oslo"}"#),
                                    .toolCallStart(index: 1, id: "", name: "search"), .toolCallArguments(index: 1, fragment: #"{"q":"x"}"#)])
        // Without parallel calls only the first is one; the second's arguments stay text.
        let single = Self.read(text, Self.parser(parallel: false))
        #expect(single.filter { if case .toolCallStart = $0 { return true }; return false }.count == 1)
        #expect(single.last == .content(#"{"q":"x"}"#))
    }

    @Test func whatCannotBeACallStaysContent() {
        let unknown = "<|channel|>commentary to=functions.delete_all <|constrain|>json<|message|>{}"
        #expect(Self.read(unknown) == [.content("{}")])
        let broken = "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\": "
        #expect(Self.read(broken) == [.content("{\"city\": ")])
        // Tools not offered (or tool_choice none): never a call.
        let call = "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\":\"Rome\"}"
        #expect(Self.read(call, Self.parser(parseTools: false)) == [.content("{\"city\":\"Rome\"}")])
        // Arguments the tool's schema refuses.
        var grammar = Grammar()
        grammar.root = try! JSONSchemaCompiler.compile(try! Value(jsonText: #"{"type":"object","properties":{"city":{"type":"integer"}},"required":["city"]}"#),
                                                       into: &grammar, location: "parameters")
        #expect(Self.read(call, Self.parser(grammars: ["get_weather": grammar])) == [.content("{\"city\":\"Rome\"}")])
    }

    @Test func aReplyWithoutHeadersIsContent() {
        #expect(Self.read("Just text, no channels.") == [.content("Just text, no channels.")])
        // Cut off inside the reasoning: what came is reasoning.
        #expect(Self.read("<|channel|>analysis<|message|>Thinking about <|") == [.reasoning("Thinking about <|")])
    }

    @Test func aForcedCallIsReadFromItsOpening() {
        let opening = try! #require(ToolCallFormat.harmony.forcedOpening(.named("get_weather")))
        #expect(Self.read(opening + "{\"city\":\"Lima\"}") == [.toolCallStart(index: 0, id: "", name: "get_weather"),
                                                             .toolCallArguments(index: 0, fragment: #"{"city":"Lima"}"#)])
    }
}
