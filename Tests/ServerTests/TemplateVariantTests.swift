import Testing
@testable import Server
import Templates

/// Tool-call turns rendered by templates that want them in different shapes.
struct TemplateVariantTests {
    let messages: [Value] = try! ChatRequest(json: #"""
    {"messages":[{"role":"user","content":"Weather?"},
      {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},
      {"role":"tool","tool_call_id":"c1","content":"cold"}]}
    """#, chat: true).messages

    func render(_ source: String) throws -> String {
        try PromptBuilder.render(Template(source), ["messages": .array(messages)], messages: messages, limits: Template.Limits())
    }

    @Test func argumentsStayObjectsForTemplatesThatSerialiseThem() throws {
        let text = try render("{% for m in messages %}{% for c in m.tool_calls or [] %}{{ c.function.arguments | tojson }}{% endfor %}{% endfor %}")
        #expect(text == #"{"city": "Oslo"}"#)
    }

    @Test func argumentsBecomeTextForTemplatesThatJoinThem() throws {
        // DeepSeek-R1 style: calls rendered only for null content, arguments joined as text.
        let text = try render("{% for m in messages %}{% if m.role == 'assistant' and m.content is none %}{% for c in m.tool_calls %}{{ 'call ' + c.function.arguments }}{% endfor %}{% endif %}{% endfor %}")
        #expect(text == #"call {"city":"Oslo"}"#)
    }

    @Test func nullContentBecomesTextForTemplatesThatNeedIt() throws {
        let text = try render("{% for m in messages %}{{ m.role + ':' + m.content + ';' }}{% endfor %}")
        #expect(text == "user:Weather?;assistant:;tool:cold;")
    }

    @Test func aTemplateThatRefusesIsA400WithItsMessage() {
        #expect(throws: APIError.self) { try render("{{ raise_exception('Only user and assistant roles are supported!') }}") }
        do { _ = try render("{{ raise_exception('Only user and assistant roles are supported!') }}") } catch let e as APIError {
            #expect(e.status == 400 && e.message.contains("Only user and assistant roles are supported!"))
        } catch { Issue.record("\(error)") }
    }
}
