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

    @Test func toolsReachTheTemplateUnlessToolChoiceIsNone() throws {
        let builder = PromptBuilder(template: toolTemplate, bosText: "", eosText: "")
        let auto = try builder.build(request("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\(tools)}"))
        #expect(auto.text.hasPrefix("<|im_start|>system\nTools: get_weather search ") && auto.forcedReply.isEmpty && auto.replyStarts.isEmpty)
        let none = try builder.build(request("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\(tools),\"tool_choice\":\"none\"}"))
        #expect(none.text.hasPrefix("<|im_start|>user"))
    }

    @Test func forcedCallsOpenTheReply() throws {
        let builder = PromptBuilder(template: toolTemplate, bosText: "", eosText: "")
        let named = try builder.build(request("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\(tools),\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"search\"}}}"))
        #expect(named.forcedReply.contains("<tool_call>") && named.forcedReply.contains("\"search\"") && named.replyStarts.isEmpty)
        let required = try builder.build(request("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\(tools),\"tool_choice\":\"required\"}"))
        #expect(required.forcedReply.contains("<tool_call>") && required.replyStarts.count == 2)
        #expect(required.replyStarts[0].contains("get_weather") && required.replyStarts[1].contains("search"))
    }

    @Test func aTemplateEndingInThinkStartsInReasoning() throws {
        let builder = PromptBuilder(template: "{% for m in messages %}{{ m.content }}{% endfor %}<think>\n", bosText: "<s>", eosText: "</s>")
        #expect(try builder.build(request(#"{"messages":[{"role":"user","content":"hi"}]}"#)).startsInReasoning)
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
