import Testing
@testable import Server
import Templates

struct ChatRequestTests {
    func error(_ json: String, chat: Bool = true) -> APIError? {
        do { _ = try ChatRequest(json: json, chat: chat); return nil } catch let e as APIError { return e } catch { return nil }
    }

    let hello = #""messages":[{"role":"user","content":"hi"}]"#
    let weather = #""tools":[{"type":"function","function":{"name":"get_weather","parameters":{}}}]"#

    @Test func wrongTypesNameTheField() {
        #expect(error("{\(hello),\"temperature\":\"hot\"}")?.param == "temperature")
        #expect(error("{\(hello),\"stream\":1}")?.param == "stream")
        #expect(error("{\(hello),\"stop\":[1]}")?.param == "stop")
        #expect(error("{\(hello),\"logit_bias\":{\"x\":1}}")?.param == "logit_bias")
        #expect(error(#"{"messages":[{"role":"wizard","content":"hi"}]}"#)?.param == "messages[0].role")
        #expect(error(#"{"messages":[]}"#)?.param == "messages")
        #expect(error("{\(hello),\"n\":2}")?.param == "n")
        #expect(error("not json")?.status == 400)
        #expect(error("[1,2]")?.status == 400)
        #expect(error(#"{"prompt":7}"#, chat: false)?.param == "prompt")
    }

    /// Numbers beyond `Int`, beyond `Double` (`1e999` reads as infinity) or outside a field's range
    /// are 400s naming the field, never a trap that ends the server.
    /// The legacy completions API: a prompt of token ids, and `logprobs` as a count of alternatives.
    @Test func completionPromptsMayBeTokenIdsAndLogprobsACount() throws {
        #expect(try ChatRequest(json: #"{"prompt":[1, 20, 300]}"#, chat: false).prompt == .tokens([1, 20, 300]))
        #expect(try ChatRequest(json: #"{"prompt":[[5, 6]]}"#, chat: false).prompt == .tokens([5, 6]))
        #expect(try ChatRequest(json: #"{"prompt":["hi"]}"#, chat: false).prompt == .text("hi"))
        for bad in [#"["a", "b"]"#, "[]", "[1.5]", "[-1]", "[4294967296]", #"[1, "x"]"#, "[[1], [2]]"] {
            #expect(error("{\"prompt\":\(bad)}", chat: false)?.param == "prompt", "\(bad)")
        }
        let counted = try ChatRequest(json: #"{"prompt":"hi","logprobs":3}"#, chat: false)
        #expect(counted.logprobs && counted.topLogprobs == 3)
        #expect(error(#"{"prompt":"hi","logprobs":21}"#, chat: false)?.param == "logprobs")
        #expect(error("{\(hello),\"logprobs\":3}")?.param == "logprobs")
    }

    @Test func outOfRangeNumbersAreRefusedNamingTheField() {
        let fields = ["max_tokens", "max_completion_tokens", "seed", "top_k", "n", "top_logprobs", "temperature", "top_p",
                      "min_p", "presence_penalty", "frequency_penalty", "repeat_penalty"]
        for chat in [true, false] {
            let base = chat ? hello : #""prompt":"hi""#
            for field in fields {
                for value in ["1e20", "-1e20", "1180591620717411303424", "1e999", "-1e999", "9223372036854775808"] {
                    let e = error("{\(base),\"\(field)\":\(value)}", chat: chat)
                    #expect(e?.status == 400 && e?.param == field, "\(field)=\(value) chat=\(chat)")
                }
            }
            #expect(error("{\(base),\"max_tokens\":0}", chat: chat)?.param == "max_tokens")
            #expect(error("{\(base),\"temperature\":-0.5}", chat: chat)?.param == "temperature")
            #expect(error("{\(base),\"top_logprobs\":21}", chat: chat)?.param == "top_logprobs")
        }
    }

    @Test func numbersInRangeAreRead() throws {
        let r = try ChatRequest(json: "{\(hello),\"max_tokens\":1e3,\"seed\":-5,\"top_k\":-1,\"temperature\":0,\"top_p\":1}", chat: true)
        #expect(r.maxTokens == 1000 && r.sampling.seed == UInt64(bitPattern: -5) && r.sampling.topK == 0)
        #expect(r.sampling.temperature == 0 && r.sampling.topP == 1)
        #expect(error("{\(hello),\"max_tokens\":2.5}")?.param == "max_tokens")
    }

    @Test func responseFormatsAreReadAndMalformedOnesRefused() throws {
        #expect(try ChatRequest(json: "{\(hello),\"response_format\":{\"type\":\"json_object\"}}", chat: true).responseFormat == .jsonObject)
        #expect(try ChatRequest(json: "{\(hello),\"response_format\":{\"type\":\"text\"}}", chat: true).responseFormat == .text)
        let schema = try ChatRequest(json: "{\(hello),\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"n\",\"schema\":{\"type\":\"integer\"}}}}", chat: true)
        #expect(schema.responseFormat == .jsonSchema(.object(Value.Object([("type", .string("integer"))]))))
        for bad in ["{\"type\":\"yaml\"}", "[]", "{\"type\":\"json_schema\"}", "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"n\"}}"] {
            #expect(error("{\(hello),\"response_format\":\(bad)}")?.param == "response_format", "\(bad)")
        }
    }

    @Test func toolChoiceMustFitTheTools() throws {
        #expect(error("{\(hello),\"tool_choice\":\"required\"}")?.param == "tool_choice")
        #expect(error("{\(hello),\(weather),\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"other\"}}}")?.param == "tool_choice")
        let named = try ChatRequest(json: "{\(hello),\(weather),\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}}", chat: true)
        #expect(named.toolChoice == .named("get_weather") && named.toolNames == ["get_weather"])
        #expect(try ChatRequest(json: "{\(hello),\(weather)}", chat: true).toolChoice == .auto)
        #expect(try ChatRequest(json: "{\(hello)}", chat: true).toolChoice == .none)
        #expect(try ChatRequest(json: "{\(hello),\(weather),\"parallel_tool_calls\":false}", chat: true).parallelToolCalls == false)
    }

    @Test func messagesAreReadyForTemplates() throws {
        let r = try ChatRequest(json: #"""
        {"messages":[{"role":"developer","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
          {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}}]},
          {"role":"tool","tool_call_id":"c1","content":{"ok":true}}],
         "max_tokens":5,"stop":"END","seed":7,"unknown_field":[1,2,3]}
        """#, chat: true)
        guard case .object(let system) = r.messages[0], case .object(let assistant) = r.messages[1], case .object(let tool) = r.messages[2] else {
            Issue.record("messages are not objects"); return
        }
        #expect(system["role"] == .string("system") && system["content"] == .string("a\nb"))
        #expect(assistant["content"] == Value.none)  // kept null: templates get "" only when they need it
        guard case .array(let calls)? = assistant["tool_calls"], case .object(let call) = calls[0], case .object(let fn)? = call["function"],
              case .object(let args)? = fn["arguments"] else { Issue.record("tool call arguments were not parsed"); return }
        #expect(args["x"] == .int(1))
        #expect(tool["content"] == .string(#"{"ok":true}"#))
        #expect(r.maxTokens == 5 && r.stop == ["END"] && r.sampling.seed == 7)
    }
}
