import Foundation
import Hummingbird
import Testing
@testable import Engine
@testable import Server
@testable import Templates

/// Ollama's chat and generate over the shared chat turn: options read into sampling, tool calls with
/// object arguments, newline-delimited streams ending in `done`.
struct OllamaChatHandlerTests {
    static let model = Result { try TinyChatModel.load() }
    let call = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"
    let tools = #""tools":[{"type":"function","function":{"name":"get_weather","parameters":{}}}]"#

    @Test func optionsFormatAndToolCallsReadAsAChatRequest() throws {
        let (body, chat) = try OllamaChatHandler.chatBody(FieldReader.object(json: #"""
        {"model":"m","format":"json","options":{"temperature":0.2,"top_k":7,"num_predict":-1,"stop":["END"],"seed":3},
         "messages":[{"role":"user","content":"Weather?"},
                     {"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Oslo"}}}]},
                     {"role":"tool","content":"12 C","tool_name":"get_weather"}]}
        """#))
        let request = try ChatRequest(body: body, chat: chat)
        #expect(request.sampling.temperature == 0.2 && request.sampling.topK == 7 && request.maxTokens == nil && request.stop == ["END"])
        #expect(request.responseFormat == .jsonObject)
        guard case .object(let assistant) = request.messages[1], case .array(let calls)? = assistant["tool_calls"],
              case .object(let first)? = calls.first, case .object(let function)? = first["function"] else { Issue.record("no call"); return }
        #expect(function["arguments"] == .object(Value.Object([("city", .string("Oslo"))])))
        guard case .object(let tool) = request.messages[2] else { return }
        #expect(tool["name"] == .string("get_weather"))
        #expect(throws: APIError.self) { try OllamaChatHandler.chatBody(FieldReader.object(json: #"{"messages":[{"role":"user","content":"x","images":["aGk="]}]}"#)) }
        #expect(throws: APIError.self) { try OllamaChatHandler.chatBody(FieldReader.object(json: #"{"messages":[],"format":7}"#)) }
    }

    @Test func aToolCallHasObjectArguments() async throws {
        let scheduler = Scripted.Scheduler([.text(call, []), Scripted.finished(12, .stop)])
        let response = try await OllamaChatHandler(model: try Self.model.get(), scheduler: scheduler)
            .handle(body: FieldReader.object(json: #"{"stream":false,\#(tools),"messages":[{"role":"user","content":"Weather in Oslo?"}]}"#), chat: true)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(try await Scripted.body(response).utf8)) as? [String: Any])
        let message = try #require(json["message"] as? [String: Any])
        let function = try #require((message["tool_calls"] as? [[String: Any]])?.first?["function"] as? [String: Any])
        #expect(function["name"] as? String == "get_weather" && (function["arguments"] as? [String: Any])?["city"] as? String == "Oslo")
        #expect(json["done"] as? Bool == true && json["eval_count"] as? Int == 12 && json["prompt_eval_count"] as? Int == 10)
    }

    @Test func streamsAreLinesEndingInDone() async throws {
        let scheduler = Scripted.Scheduler([.keepAlive, .text("Hel", []), .text("lo", []), Scripted.finished(2, .length)])
        let response = try await OllamaChatHandler(model: try Self.model.get(), scheduler: scheduler)
            .handle(body: FieldReader.object(json: #"{"prompt":"hi","system":"Be brief."}"#), chat: false)
        #expect(response.headers[.contentType] == "application/x-ndjson")
        let lines = try await Scripted.body(response).split(separator: "\n").compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.compactMap { $0["response"] as? String }.joined() == "Hello")
        #expect(lines.dropLast().allSatisfy { $0["done"] as? Bool == false })
        #expect(lines.last?["done"] as? Bool == true && lines.last?["done_reason"] as? String == "length")
        // An empty prompt only loads the model.
        let load = try await OllamaChatHandler(model: try Self.model.get(), scheduler: Scripted.Scheduler([]))
            .handle(body: FieldReader.object(json: #"{"prompt":""}"#), chat: false)
        #expect(try await Scripted.body(load).contains(#""done_reason":"load""#))
    }
}
