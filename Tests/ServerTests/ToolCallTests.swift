import Testing
@testable import Server

struct ToolCallTests {
    let tools: Set<String> = ["get_weather", "search"]

    @Test func formatIsChosenFromTheTemplate() {
        #expect(ToolCallFormat(template: "{% if tools %}<tool_call>{% endif %}") == .hermes)
        #expect(ToolCallFormat(template: "[AVAILABLE_TOOLS]…[TOOL_CALLS]") == .mistral)
        #expect(ToolCallFormat(template: "{{ messages }}") == .json)
        #expect(ToolCallFormat(template: "{{ '<|tool|>' + message['tools'] + '<|/tool|>' }}") == .functools)
    }

    @Test func phiCallsAreAFunctoolsArray() {
        let text = #"Checking. functools[{"name": "search", "arguments": {"q": "errors"}}, {"name": "get_weather", "arguments": {"city": "Oslo"}}]"#
        let (content, calls) = ToolCallFormat.functools.parse(text, tools: tools)
        #expect(content == "Checking." && calls.map(\.name) == ["search", "get_weather"])
        #expect(calls[1].arguments == #"{"city":"Oslo"}"#)
        // Python's functools module in an answer is not a call.
        let prose = "Use functools.lru_cache or functools[0] for that."
        #expect(ToolCallFormat.functools.parse(prose, tools: tools) == (prose, []))
        let required = ToolCallFormat.functools.forcedOpening(.named("search"))!
        #expect(required == #"functools[{"name": "search", "arguments": {"#)
        #expect(ToolCallFormat.functools.parse(required + #""q": 1}}]"#, tools: tools).calls.first?.arguments == #"{"q":1}"#)
    }

    @Test func hermesCallsLeaveTheContentClean() {
        let (content, calls) = ToolCallFormat.hermes.parse(
            "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>{\"name\":\"search\",\"arguments\":{}}</tool_call>",
            tools: tools)
        #expect(content == "Let me check.")
        #expect(calls.map(\.name) == ["get_weather", "search"])
        #expect(calls[0].arguments == #"{"city":"Paris"}"# && calls[0].id.hasPrefix("call_"))
    }

    @Test func mistralCallsAreAnArrayAfterTheMarker() {
        let (content, calls) = ToolCallFormat.mistral.parse(#"[TOOL_CALLS][{"name": "search", "arguments": {"q": "errors"}}, {"name": "get_weather", "arguments": {"city": "Oslo"}}]"#, tools: tools)
        #expect(content.isEmpty && calls.map(\.name) == ["search", "get_weather"])
        #expect(calls[1].arguments == #"{"city":"Oslo"}"#)
    }

    @Test func llamaStyleJSONWithParametersIsACall() {
        let (content, calls) = ToolCallFormat.json.parse(#"{"name": "get_weather", "parameters": {"city": "Rome"}}"#, tools: tools)
        #expect(content.isEmpty && calls.first?.arguments == #"{"city":"Rome"}"#)
        // Small models drop their tags and fence the JSON; arguments given as a JSON string are kept.
        let fenced = ToolCallFormat.hermes.parse("```json\n{\"name\": \"search\", \"arguments\": \"{\\\"q\\\": 1}\"}\n```", tools: tools)
        #expect(fenced.calls.first?.name == "search" && fenced.calls.first?.arguments == #"{"q": 1}"#)
    }

    @Test func textThatOnlyLooksLikeACallStaysContent() {
        for text in [#"{"name": "unknown_tool", "arguments": {}}"#, #"{"name": "search", "arguments": 1}"#, "<tool_call>not json</tool_call>", "The JSON is {\"a\": 1}.",
                     "<|tool_use_start|>get_weather<|tool_use_end|>"] {
            let (content, calls) = ToolCallFormat.hermes.parse(text, tools: tools)
            #expect(calls.isEmpty, "\(text)")
            #expect(content == text, "\(text)")
        }
    }

    @Test func forcedOpeningsParseOnceTheModelFinishesThem() {
        #expect(ToolCallFormat.hermes.forcedOpening(.auto) == nil)
        let named = ToolCallFormat.hermes.forcedOpening(.named("get_weather"))!
        #expect(ToolCallFormat.hermes.parse(named + "\"city\": \"Lima\"}}\n</tool_call>", tools: tools).calls.first?.arguments == #"{"city":"Lima"}"#)
        let required = ToolCallFormat.mistral.forcedOpening(.required)!
        #expect(ToolCallFormat.mistral.parse(required + "search\", \"arguments\": {}}]", tools: tools).calls.first?.name == "search")
        let json = ToolCallFormat.json.forcedOpening(.named("search"))!
        #expect(ToolCallFormat.json.parse(json + "\"q\": \"x\"}}", tools: tools).calls.first?.name == "search")
    }

    @Test func reasoningIsSplitAcrossArbitraryPieces() {
        let text = "<think>\nweigh it</think>\n\nThe answer."
        for size in 1...6 {
            var splitter = ReasoningSplitter(startsInReasoning: false)
            var reasoning = "", content = ""
            var rest = Substring(text)
            while !rest.isEmpty {
                let (r, c) = splitter.feed(String(rest.prefix(size)))
                reasoning += r; content += c
                rest = rest.dropFirst(size)
            }
            let (r, c) = splitter.flush()
            #expect(reasoning + r == "\nweigh it" && content + c == "The answer.", "piece size \(size)")
        }
        var opened = ReasoningSplitter(startsInReasoning: true)
        #expect(opened.feed("plan</think>done") == ("plan", "done"))
    }
}

struct EarlyReleaseTests {
    let tools: Set<String> = ["get_weather", "search"]

    @Test func textThatMayStillBeACallIsHeld() {
        for text in ["", "  ", "{", "```", "```json\n{\"na", "<tool_call>", "<tool_call>\n{\"name\": \"get_", "[TOOL_CALLS][{\"name\":\"search\"", "functools", "functools[{\"name\": \"sea",
                     "{\"type\": \"function\"", "{\"function\": {", "{\"name\":", "{\"name\": \"search\", \"arguments\": {\"q\": 1"] {
            #expect(ToolCallFormat.mayBeCall(text, tools: tools), "\(text.debugDescription)")
        }
    }

    @Test func textThatCannotBeACallIsReleased() {
        for text in ["{\"screen_description\":", "{\"name\": \"context\"", "{\"name\": \"get_x", "{1", "[1, 2]", "``` python\nprint()",
                     "<tool_call>\n{\"query\""] {
            #expect(!ToolCallFormat.mayBeCall(text, tools: tools), "\(text.debugDescription)")
        }
    }
}
