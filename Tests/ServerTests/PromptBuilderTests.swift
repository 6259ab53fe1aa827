import Foundation
import Engine
import Grammar
import Testing
@testable import Server
import Templates

/// The prompt text of a request, without a model: templates, tools, forced tool calls, reasoning.
struct PromptBuilderTests {
    /// A Qwen2.5-style template: tools in the system turn, calls as `<tool_call>` JSON.
    let toolTemplate = """
    {%- if tools %}<|im_start|>system\nTools: {% for t in tools %}{{ t.function.name }} {% endfor %}<tool_call></tool_call><|im_end|>\n{% endif %}\
    {%- for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}\
    {%- if add_generation_prompt %}<|im_start|>assistant\n{% endif %}
    """

    func request(_ json: String) throws -> ChatRequest { try ChatRequest(json: json, chat: true) }

    let tools = #""tools":[{"type":"function","function":{"name":"get_weather","parameters":{}}},{"type":"function","function":{"name":"search","parameters":{}}}]"#

    @Test func withoutATemplateTheModelGetsChatML() throws {
        let built = try PromptBuilder(template: nil, bosText: "", eosText: "").build(request(#"{"messages":[{"role":"user","content":"hi"}]}"#))
        #expect(built == PromptBuilder.Built(text: "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"))
    }

    @Test func theTemplateLimitsAreTheBuildersOwn() throws {
        let messages = (0..<20).map { #"{"role":"user","content":"message \#($0)"}"# }.joined(separator: ",")
        let chat = try request(#"{"messages":["# + messages + "]}")
        #expect(try PromptBuilder(template: toolTemplate, bosText: "", eosText: "").build(chat).text.contains("message 19"))
        var loops = Template.Limits()
        loops.loopIterations = 10
        var output = Template.Limits()
        output.outputBytes = 100
        for limits in [loops, output] {
            do {
                _ = try PromptBuilder(template: toolTemplate, bosText: "", eosText: "", limits: limits).build(chat)
                Issue.record("rendered past its limits")
            } catch let error as APIError {
                #expect(error.status == 400 && error.code == "template_error")
            }
        }
    }

    @Test func toolsReachTheTemplateUnlessToolChoiceIsNone() throws {
        let builder = PromptBuilder(template: toolTemplate, bosText: "", eosText: "")
        let auto = try builder.build(request("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\(tools)}"))
        #expect(auto.text.hasPrefix("<|im_start|>system\nTools: get_weather search ") && auto.forcedReply.isEmpty)
        // With `auto` the call grammar waits for the model to open a call.
        #expect(auto.grammar?.trigger == "<tool_call>" && auto.grammar?.prefix == "")
        let none = try builder.build(request("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\(tools),\"tool_choice\":\"none\"}"))
        #expect(none.text.hasPrefix("<|im_start|>user"))
    }

    @Test func forcedCallsOpenTheReply() throws {
        let builder = PromptBuilder(template: toolTemplate, bosText: "", eosText: "")
        let named = try builder.build(request("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\(tools),\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"search\"}}}"))
        #expect(named.forcedReply.contains("<tool_call>") && named.forcedReply.contains("\"search\""))
        #expect(Self.fits(named.grammar, #"<tool_call>\#n{"name": "search", "arguments": {"q": "x"}}\#n</tool_call>"#))
        #expect(!Self.fits(named.grammar, #"<tool_call>\#n{"name": "search", "arguments": {"q": "x"}"#))
        let required = try builder.build(request("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\(tools),\"tool_choice\":\"required\"}"))
        #expect(required.forcedReply.contains("<tool_call>"))
        // The name is one of the tools', the arguments an object, the tags closed.
        for name in ["get_weather", "search"] {
            #expect(Self.fits(required.grammar, "<tool_call>\n{\"name\": \"\(name)\", \"arguments\": {}}\n</tool_call>"))
        }
        #expect(!Self.fits(required.grammar, "<tool_call>\n{\"name\": \"other\", \"arguments\": {}}\n</tool_call>"))
        #expect(!Self.fits(required.grammar, "<tool_call>\n{\"name\": \"search\", \"arguments\": [1]}\n</tool_call>"))
    }

    @Test func gptOssCallsAreHarmonyCommentaryMessages() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("TemplatesTests/Fixtures/templates/openai-gpt-oss-120b.jinja")
        let template = try String(contentsOf: file, encoding: .utf8)
        let builder = PromptBuilder(template: template, bosText: "", eosText: "")
        #expect(builder.toolFormat == .harmony)
        let messages = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"
        // gpt-oss's template describes each tool in TypeScript (and needs a description).
        let tools = #""tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}},{"type":"function","function":{"name":"search","description":"Search","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}}]"#
        let auto = try builder.build(request("{\(messages),\(tools)}"))
        #expect(auto.text.hasSuffix("<|start|>user<|message|>hi<|end|><|start|>assistant") && auto.grammar == nil)
        #expect(auto.text.contains("type get_weather = (_: {\ncity?: string,\n}) => any;"))
        let named = try builder.build(request("{\(messages),\(tools),\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"search\"}}}"))
        #expect(named.forcedReply == "<|channel|>commentary to=functions.search <|constrain|>json<|message|>")
        #expect(Self.fits(named.grammar, named.forcedReply + #"{"q": "x"}"#))
        #expect(!Self.fits(named.grammar, named.forcedReply + "[1]"))
        // A tool-call turn's reasoning, sent back as reasoning_content, is its analysis message.
        let call = #"{"role":"assistant","content":null,"reasoning_content":"Need the weather.","tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]}"#
        let result = #"{"role":"tool","tool_call_id":"c1","content":"{\"temp\":3}"}"#
        let turn = try builder.build(request("{\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},\(call),\(result)],\(tools)}"))
        #expect(turn.text.contains("<|start|>assistant<|channel|>analysis<|message|>Need the weather.<|end|><|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>"))
        let required = try builder.build(request("{\(messages),\(tools),\"tool_choice\":\"required\"}"))
        #expect(required.forcedReply == "<|channel|>commentary to=functions.")
        #expect(Self.fits(required.grammar, required.forcedReply + "get_weather <|constrain|>json<|message|>{}"))
        #expect(!Self.fits(required.grammar, required.forcedReply + "other <|constrain|>json<|message|>{}"))
    }

    @Test func phi4MiniGetsItsToolsInTheSystemMessageAndWritesFunctools() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("TemplatesTests/Fixtures")
        let template = try String(contentsOf: fixtures.appendingPathComponent("templates/microsoft-Phi-4-mini-instruct.jinja"), encoding: .utf8)
        let builder = PromptBuilder(template: template, bosText: "<s>", eosText: "</s>")
        #expect(builder.toolFormat == .functools)
        // The same conversation as the template fixtures' `tools_in_system`, sent as an OpenAI client sends it.
        let weather = #"{"type":"function","function":{"name":"get_weather","description":"Current weather in a city","parameters":{"type":"object","properties":{"city":{"type":"string","description":"City name"},"unit":{"type":"string","enum":["c","f"]}},"required":["city"]}}}"#
        let call = #"{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}"#
        let body = #"{"messages":[{"role":"system","content":"Use tools when helpful."},{"role":"user","content":"Weather in Paris?"},"# + call
            + #",{"role":"tool","tool_call_id":"c1","content":"{\"temp\": 18}"}],"tools":["# + weather + "]}"
        let built = try builder.build(request(body))
        guard case .array(let cases) = try Value(jsonText: String(contentsOf: fixtures.appendingPathComponent("template-golden.json"), encoding: .utf8)) else {
            Issue.record("template-golden.json is not an array")
            return
        }
        let python = cases.compactMap { c -> Value? in
            guard case .object(let o) = c, o["template"] == .string("microsoft-Phi-4-mini-instruct"), o["conversation"] == .string("tools_in_system"),
                  case .object(let context)? = o["context"], context["add_generation_prompt"] == .bool(true) else { return nil }
            return o["output"]
        }
        #expect(python == [.string(built.text)])
        // Without a system message one is put first; tool_choice none leaves the tools out.
        let bare = try builder.build(request(#"{"messages":[{"role":"user","content":"hi"}],"tools":["# + weather + "]}"))
        #expect(bare.text.hasPrefix("<|system|><|tool|>[{\"name\": \"get_weather\"") && bare.text.hasSuffix("<|user|>hi<|end|><|assistant|>"))
        let none = try builder.build(request(#"{"messages":[{"role":"user","content":"hi"}],"tool_choice":"none","tools":["# + weather + "]}"))
        #expect(none.text == "<|user|>hi<|end|><|assistant|>")
        // A required call opens `functools[` and is held to the tool's schema.
        let required = try builder.build(request(#"{"messages":[{"role":"user","content":"hi"}],"tool_choice":"required","tools":["# + weather + "]}"))
        #expect(required.forcedReply == #"functools[{"name": "get_weather", "arguments": {"#)
        #expect(Self.fits(required.grammar, required.forcedReply + #""city": "Oslo"}}]"#))
        #expect(!Self.fits(required.grammar, required.forcedReply + #""town": 1}}]"#))
    }

    /// Whether a grammar takes `reply` (which begins with its prefix) to its end.
    static func fits(_ reply: ReplyGrammar?, _ text: String) -> Bool {
        guard let reply, text.hasPrefix(reply.prefix) else { return false }
        var m = GrammarMatcher(reply.grammar)
        return m.accept(Array(text.utf8)) && m.canEnd
    }

    @Test func responseFormatsBecomeGrammarsAndUnsupportedSchemasA400() throws {
        let builder = PromptBuilder(template: toolTemplate, bosText: "", eosText: "")
        let object = try builder.build(request(#"{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}"#))
        #expect(Self.fits(object.grammar, #"{"a": [1, {"b": null}]}"#) && !Self.fits(object.grammar, "[1]") && !Self.fits(object.grammar, "Sure!"))
        let schema = #"{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"],"additionalProperties":false}"#
        let typed = try builder.build(request(#"{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","strict":true,"schema":"# + schema + "}}}"))
        #expect(Self.fits(typed.grammar, #"{"n": 3}"#) && !Self.fits(typed.grammar, #"{"n": "3"}"#))
        do {
            _ = try builder.build(request(#"{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"schema":{"type":"integer","minimum":0}}}}"#))
            Issue.record("an unsupported keyword was accepted")
        } catch let error as APIError {
            #expect(error.message.contains("'minimum'") && error.param == "response_format")
        }
        let badTool = #""tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"x":{"type":"integer","minimum":1}}}}}]"#
        #expect(throws: APIError.self) { try builder.build(request("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\(badTool),\"tool_choice\":\"required\"}")) }
        for bad in [#""response_format":{"type":"xml"}"#, #""response_format":"json""#, #""response_format":{"type":"json_schema"}"#] {
            #expect(throws: APIError.self) { try request("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\(bad)}") }
        }
    }

    @Test func aTemplateEndingInThinkStartsInReasoning() throws {
        let builder = PromptBuilder(template: "{% for m in messages %}{{ m.content }}{% endfor %}<think>\n", bosText: "<s>", eosText: "</s>")
        #expect(try builder.build(request(#"{"messages":[{"role":"user","content":"hi"}]}"#)).startsInReasoning)
        // JSON a reasoning model is asked for is held from the end of its reasoning on.
        let built = try builder.build(request(#"{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}"#))
        let grammar = try #require(built.grammar)
        #expect(grammar.trigger == "</think>" && !grammar.isToolCall)
        var matcher = GrammarMatcher(grammar.grammar)
        let accepted = matcher.accept(Array("</think>\n\n{\"a\": [1, true]}".utf8))
        #expect(accepted && matcher.canEnd)
        var early = GrammarMatcher(grammar.grammar)
        let prose = early.accept(Array("</think>\nSure: {".utf8))
        #expect(!prose)
    }

    @Test func specialTokensAreOfferedToTheTemplate() throws {
        let builder = PromptBuilder(template: "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}", bosText: "<s>", eosText: "</s>")
        #expect(try builder.build(request(#"{"messages":[{"role":"user","content":"hi"}]}"#)).text == "<s>hi</s>")
    }

    @Test func aTemplateThatDoesNotParseIsA400PerRequest() throws {
        let builder = PromptBuilder(template: "{% for %}", bosText: "", eosText: "")
        #expect(throws: APIError.self) { try builder.build(request(#"{"messages":[{"role":"user","content":"hi"}]}"#)) }
    }
}
