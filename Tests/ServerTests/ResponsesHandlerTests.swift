import Foundation
import Hummingbird
import Testing
@testable import Engine
@testable import Server
@testable import Templates

/// OpenAI's Responses API over the shared chat turn: input items read into chat messages, replies as
/// output items and `response.*` events, conversations continued by `previous_response_id`.
struct ResponsesHandlerTests {
    static let model = Result { try TinyChatModel.load() }
    let call = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"
    let tools = #""tools":[{"type":"function","name":"get_weather","parameters":{}}]"#

    func roles(_ messages: [Value]) -> [String] {
        messages.compactMap { m -> String? in if case .object(let o) = m, case .string(let r)? = o["role"] { return r }; return nil }
    }

    func json(_ response: Response) async throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(try await Scripted.body(response).utf8)) as? [String: Any])
    }

    @Test func inputItemsReadAsChatMessages() throws {
        let (chat, conversation) = try ResponsesHandler.chatBody(FieldReader.object(json: #"""
        {"model":"m","instructions":"Be brief.","max_output_tokens":40,\#(tools),"tool_choice":{"type":"function","name":"get_weather"},
         "text":{"format":{"type":"json_schema","name":"w","schema":{"type":"object"},"strict":true}},
         "input":[{"role":"user","content":[{"type":"input_text","text":"Weather in Oslo?"}]},
                  {"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Oslo\"}"},
                  {"type":"function_call","call_id":"call_2","name":"get_weather","arguments":"{\"city\":\"Bergen\"}"},
                  {"type":"function_call_output","call_id":"call_1","output":"12 C"},
                  {"type":"reasoning","id":"rs_1","summary":[]}]}
        """#), store: ResponseStore())
        let request = try ChatRequest(body: chat, chat: true)
        // The instructions lead the prompt but are not part of the conversation a later turn continues.
        #expect(roles(request.messages) == ["system", "user", "assistant", "tool"] && roles(conversation) == ["user", "assistant", "tool"])
        guard case .object(let assistant) = request.messages[2], case .array(let calls)? = assistant["tool_calls"] else { Issue.record("no calls"); return }
        #expect(calls.count == 2)
        #expect(request.toolChoice == .named("get_weather") && request.maxTokens == 40)
        #expect(request.responseFormat == .jsonSchema(.object(Value.Object([("type", .string("object"))]))))
    }

    @Test func unknownItemsAndPreviousResponsesAreClearErrors() throws {
        let store = ResponseStore()
        #expect(throws: APIError.self) { try ResponsesHandler.chatBody(FieldReader.object(json: #"{"input":[{"type":"computer_call"}]}"#), store: store) }
        #expect(throws: APIError.self) { try ResponsesHandler.chatBody(FieldReader.object(json: #"{"input":"x","tools":[{"type":"web_search"}]}"#), store: store) }
        do {
            _ = try ResponsesHandler.chatBody(FieldReader.object(json: #"{"input":"x","previous_response_id":"resp_gone"}"#), store: store)
            Issue.record("an unknown previous response was accepted")
        } catch let error as APIError {
            #expect(error.status == 404 && error.param == "previous_response_id")
        }
    }

    @Test func aReplyIsOutputItemsAndItsConversationIsKept() async throws {
        let model = try Self.model.get()
        let store = ResponseStore()
        let first = try await json(ResponsesHandler(model: model, store: store, scheduler: Scripted.Scheduler([.text("Let me check." + call, []), Scripted.finished(20, .stop)]))
            .handle(body: FieldReader.object(json: #"{"input":"Weather in Oslo?",\#(tools)}"#)))
        #expect(first["object"] as? String == "response" && first["status"] as? String == "completed")
        let output = try #require(first["output"] as? [[String: Any]])
        #expect(output.map { $0["type"] as? String } == ["message", "function_call"])
        let callID = try #require(output[1]["call_id"] as? String)
        #expect(output[1]["arguments"] as? String == #"{"city": "Oslo"}"#)
        // The next turn sends only the call's output; the kept conversation comes before it.
        let id = try #require(first["id"] as? String)
        let (chat, _) = try ResponsesHandler.chatBody(FieldReader.object(json: #"{"previous_response_id":"\#(id)","input":[{"type":"function_call_output","call_id":"\#(callID)","output":"12 C"}]}"#), store: store)
        let request = try ChatRequest(body: chat, chat: true)
        #expect(roles(request.messages) == ["user", "assistant", "tool"])
        // A response at its token limit is incomplete, and says why.
        let cut = try await json(ResponsesHandler(model: model, store: store, scheduler: Scripted.Scheduler([.text("Partial", []), Scripted.finished(5, .length)]))
            .handle(body: FieldReader.object(json: #"{"input":"hi","store":false}"#)))
        #expect(cut["status"] as? String == "incomplete" && (cut["incomplete_details"] as? [String: Any])?["reason"] as? String == "max_output_tokens")
        #expect(store.response(try #require(cut["id"] as? String)) == nil)
    }

    @Test func aStreamIsResponseEventsInSequence() async throws {
        let scheduler = Scripted.Scheduler([.text("Sure.", []), .text(call, []), Scripted.finished(20, .stop)])
        let response = try await ResponsesHandler(model: try Self.model.get(), store: ResponseStore(), scheduler: scheduler)
            .handle(body: FieldReader.object(json: #"{"input":"Weather?","stream":true,\#(tools)}"#))
        let lines = try await Scripted.body(response).split(separator: "\n")
        let events = lines.filter { $0.hasPrefix("data: ") }.compactMap { try? JSONSerialization.jsonObject(with: Data($0.dropFirst(6).utf8)) as? [String: Any] }
        #expect(events.map { $0["type"] as? String ?? "" } == [
            "response.created", "response.in_progress",
            "response.output_item.added", "response.content_part.added", "response.output_text.delta",
            "response.output_text.done", "response.content_part.done", "response.output_item.done",
            "response.output_item.added", "response.function_call_arguments.delta",
            "response.function_call_arguments.done", "response.output_item.done", "response.completed",
        ])
        #expect(events.map { $0["sequence_number"] as? Int } == (0..<events.count).map { $0 })
        let completed = try #require(events.last?["response"] as? [String: Any])
        let ids = (completed["output"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
        let added = events.filter { $0["type"] as? String == "response.output_item.added" }.compactMap { ($0["item"] as? [String: Any])?["id"] as? String }
        #expect(ids == added && ids?.count == 2)
    }
}
