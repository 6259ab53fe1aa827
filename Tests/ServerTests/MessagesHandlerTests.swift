import Foundation
import Hummingbird
import Testing
@testable import Engine
@testable import Server
@testable import Templates

/// Anthropic's Messages API over the shared chat turn: requests read into chat requests, replies
/// encoded as content blocks and as Anthropic's event stream.
struct MessagesHandlerTests {
    static let model = Result { try TinyChatModel.load() }
    let call = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"
    let tools = #""tools":[{"name":"get_weather","input_schema":{}}]"#

    func chat(_ json: String) throws -> ChatRequest {
        try ChatRequest(body: MessagesHandler.chatBody(FieldReader.object(json: json)), chat: true)
    }

    @Test func aConversationWithToolUseReadsAsChatMessages() throws {
        let request = try chat(#"""
        {"model":"m","max_tokens":50,"system":[{"type":"text","text":"Be brief."}],"stop_sequences":["END"],
         \#(tools),"tool_choice":{"type":"any","disable_parallel_tool_use":true},
         "messages":[{"role":"user","content":"Weather in Oslo?"},
                     {"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Oslo"}}]},
                     {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"12 C"}]},{"type":"text","text":"And tomorrow?"}]}]}
        """#)
        let roles = request.messages.compactMap { m -> String? in if case .object(let o) = m, case .string(let r)? = o["role"] { return r }; return nil }
        #expect(roles == ["system", "user", "assistant", "tool", "user"])
        guard case .object(let assistant) = request.messages[2], case .array(let calls)? = assistant["tool_calls"],
              case .object(let first)? = calls.first, case .object(let function)? = first["function"] else { Issue.record("no tool call"); return }
        #expect(first["id"] == .string("toolu_1") && function["arguments"] == .object(Value.Object([("city", .string("Oslo"))])))
        guard case .object(let result) = request.messages[3] else { return }
        #expect(result["tool_call_id"] == .string("toolu_1") && result["content"] == .string("12 C"))
        #expect(request.toolChoice == .required && !request.parallelToolCalls && request.stop == ["END"] && request.maxTokens == 50)
        #expect(request.toolNames == ["get_weather"])
    }

    @Test func whatALocalModelCannotTakeIsRefusedByName() throws {
        #expect(throws: APIError.self) { try chat(#"{"messages":[{"role":"user","content":[{"type":"image","source":{}}]}]}"#) }
        #expect(throws: APIError.self) { try chat(#"{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"web_search_20250305","name":"web_search"}]}"#) }
        #expect(throws: APIError.self) { try chat(#"{"messages":[{"role":"robot","content":"x"}]}"#) }
        let error = APIError.notFound("no such model")
        guard case .object(let body) = MessagesHandler.errorBody(error), case .object(let inner)? = body["error"] else { Issue.record("shape"); return }
        #expect(body["type"] == .string("error") && inner["type"] == .string("not_found_error"))
    }

    @Test func aToolCallIsAToolUseBlock() async throws {
        let scheduler = Scripted.Scheduler([.text(call, []), Scripted.finished(12, .stop)])
        let response = try await MessagesHandler(model: try Self.model.get(), scheduler: scheduler)
            .handle(body: try FieldReader.object(json: #"{"max_tokens":8,\#(tools),"messages":[{"role":"user","content":"Weather in Oslo?"}]}"#))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(try await Scripted.body(response).utf8)) as? [String: Any])
        #expect(json["type"] as? String == "message" && json["stop_reason"] as? String == "tool_use")
        let blocks = try #require(json["content"] as? [[String: Any]])
        let use = try #require(blocks.first { $0["type"] as? String == "tool_use" })
        #expect(use["name"] as? String == "get_weather" && (use["input"] as? [String: Any])?["city"] as? String == "Oslo")
        #expect((json["usage"] as? [String: Any])?["output_tokens"] as? Int == 12)
    }

    @Test func aStreamIsAnthropicsEvents() async throws {
        var stopped = GenerationResult()
        stopped.tokens = [5, 5]
        stopped.finishReason = .stop
        stopped.stopSequence = "END"
        let scheduler = Scripted.Scheduler([.keepAlive, .text("Hel", []), .text("lo", []), .finished(stopped)])
        let response = try await MessagesHandler(model: try Self.model.get(), scheduler: scheduler)
            .handle(body: try FieldReader.object(json: #"{"max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#))
        let lines = try await Scripted.body(response).split(separator: "\n")
        let names = lines.filter { $0.hasPrefix("event: ") }.map { String($0.dropFirst(7)) }
        #expect(names == ["message_start", "ping", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"])
        let events = lines.filter { $0.hasPrefix("data: ") }.compactMap { try? JSONSerialization.jsonObject(with: Data($0.dropFirst(6).utf8)) as? [String: Any] }
        let text = events.compactMap { ($0["delta"] as? [String: Any])?["text"] as? String }.joined()
        #expect(text == "Hello")
        let delta = try #require(events.first { $0["type"] as? String == "message_delta" }?["delta"] as? [String: Any])
        #expect(delta["stop_reason"] as? String == "stop_sequence" && delta["stop_sequence"] as? String == "END")
    }
}
