import Foundation
import Hummingbird
import NIOCore
import Testing
@testable import Engine
@testable import Server

/// The chat handler's answers, JSON and SSE, for what a generation reports: a fake scheduler plays
/// the generation, the tiny model only builds prompts.
struct CompletionHandlerTests {
    static let model = Result { try TinyChatModel.load() }

    let weather = #"{"messages":[{"role":"user","content":"Weather in Oslo?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{}}}]"#
    let call = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"

    @Test func aToolCallBecomesToolCallsInJSON() async throws {
        let model = try Self.model.get()
        let scheduler = Scripted.Scheduler([.keepAlive, .text(call, []), Scripted.finished(12, .stop)])
        let response = try await CompletionHandler(model: model, scheduler: scheduler).handle(body: try FieldReader.object(json: weather + "}"), chat: true)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(try await Scripted.body(response).utf8)) as? [String: Any])
        let choice = try #require((json["choices"] as? [[String: Any]])?.first)
        #expect(choice["finish_reason"] as? String == "tool_calls")
        let message = try #require(choice["message"] as? [String: Any])
        let calls = try #require(message["tool_calls"] as? [[String: Any]])
        let function = try #require(calls.first?["function"] as? [String: Any])
        #expect(function["name"] as? String == "get_weather" && function["arguments"] as? String == #"{"city": "Oslo"}"#)
        #expect((json["usage"] as? [String: Any])?["completion_tokens"] as? Int == 12)
        // The prompt it ran is the tiny model's tokens of the templated conversation, tools included.
        let prompt = try #require(scheduler.prompts.first)
        #expect(prompt.first == 1 && prompt.count > 40)
    }

    @Test func aHarmonyReplyBecomesReasoningAndAToolCall() async throws {
        // A gpt-oss-style template (harmony headers) on the tiny model; the reply as gpt-oss writes it.
        let template = "{% for m in messages %}<|start|>{{ m.role }}<|message|>{{ m.content }}<|end|>{% endfor %}<|start|>assistant<|channel|>"
        let model = try TinyChatModel.load(template: template)
        #expect(model.toolFormat == .harmony)
        let reply = "<|channel|>analysis<|message|>Need the weather.<|end|><|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\":\"Oslo\"}"
        let scheduler = Scripted.Scheduler([.text(String(reply.prefix(30)), []), .text(String(reply.dropFirst(30)), []), Scripted.finished(20, .stop)])
        let response = try await CompletionHandler(model: model, scheduler: scheduler).handle(body: try FieldReader.object(json: weather + "}"), chat: true)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(try await Scripted.body(response).utf8)) as? [String: Any])
        let choice = try #require((json["choices"] as? [[String: Any]])?.first)
        #expect(choice["finish_reason"] as? String == "tool_calls")
        let message = try #require(choice["message"] as? [String: Any])
        #expect(message["reasoning_content"] as? String == "Need the weather.")
        let function = try #require((message["tool_calls"] as? [[String: Any]])?.first?["function"] as? [String: Any])
        #expect(function["name"] as? String == "get_weather" && function["arguments"] as? String == #"{"city":"Oslo"}"#)
    }

    @Test func aPromptOfTokenIdsRunsAsGivenAndUnknownIdsAreA400() async throws {
        let model = try Self.model.get()
        let scheduler = Scripted.Scheduler([.text("ok", []), Scripted.finished(1, .stop)])
        _ = try await CompletionHandler(model: model, scheduler: scheduler).handle(body: try FieldReader.object(json: #"{"prompt":[1, 7, 9]}"#), chat: false)
        #expect(scheduler.prompts == [[1, 7, 9]])
        await #expect(throws: APIError.self) {
            _ = try await CompletionHandler(model: model, scheduler: scheduler).handle(body: try FieldReader.object(json: #"{"prompt":[1, 100000]}"#), chat: false)
        }
    }

    @Test func aStreamedReplyIsSSEEndingInDone() async throws {
        let model = try Self.model.get()
        let scheduler = Scripted.Scheduler([.keepAlive, .text("Hel", []), .text("lo", []), Scripted.finished(2, .length)])
        let response = try await CompletionHandler(model: model, scheduler: scheduler)
            .handle(body: try FieldReader.object(json: #"{"messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}"#), chat: true)
        #expect(response.headers[.contentType] == "text/event-stream")
        let text = try await Scripted.body(response)
        let events = text.split(separator: "\n").filter { $0.hasPrefix("data: ") }.map { $0.dropFirst(6) }
        #expect(events.last == "[DONE]")
        let chunks = events.dropLast().compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let content = chunks.compactMap { (($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String }.joined()
        #expect(content == "Hello")
        #expect(chunks.contains { (($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String) == "length" })
        #expect(chunks.last?["usage"] != nil)
    }

    @Test func aFailureMidStreamIsAnErrorEvent() async throws {
        let model = try Self.model.get()
        let scheduler = Scripted.Scheduler([.text("partial", []), .failed(APIError.internalError("the model failed"))])
        let text = try await Scripted.body(try await CompletionHandler(model: model, scheduler: scheduler)
            .handle(body: try FieldReader.object(json: #"{"messages":[{"role":"user","content":"hi"}],"stream":true}"#), chat: true))
        #expect(text.contains(#""message":"the model failed""#) && text.contains("The generation ended unexpectedly"))
    }

    @Test func theRealTinyModelAnswersThroughTheQueue() async throws {
        let model = try Self.model.get()
        let response = try await CompletionHandler(model: model)
            .handle(body: try FieldReader.object(json: #"{"messages":[{"role":"user","content":"hi"}],"max_tokens":3,"temperature":0,"logit_bias":{"0":-100,"1":-100,"2":-100,"3":-100,"4":-100}}"#), chat: true)
        let text = try await Scripted.body(response)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect((json["usage"] as? [String: Any])?["completion_tokens"] as? Int == 3, "\(text)")
        // The queue frees the model's place as the generation ends.
        for _ in 0..<100 where model.activeRequests > 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(model.activeRequests == 0)
    }

    @Test func embeddingsComeFromTheScheduler() async throws {
        let model = try Self.model.get()
        let response = try await EmbeddingsHandler(model: model, scheduler: Scripted.Scheduler([])).handle(body: try FieldReader.object(json: #"{"input":["ab","abcd"]}"#))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(try await Scripted.body(response).utf8)) as? [String: Any])
        let vectors = (json["data"] as? [[String: Any]])?.compactMap { $0["embedding"] as? [Double] }
        #expect(vectors?.count == 2 && vectors?[0][0] ?? 0 < vectors?[1][0] ?? 0)
    }
}
