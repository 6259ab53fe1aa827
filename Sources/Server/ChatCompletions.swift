import Engine
import Foundation
import Hummingbird
import Templates

/// `/v1/chat/completions` and `/v1/completions`: validate, render, generate, and answer as one JSON
/// object or as a stream of server-sent events.
struct CompletionHandler: Sendable {
    let model: ChatModel

    func handle(body: String, chat: Bool) async throws -> Response {
        let request = try ChatRequest(json: body, chat: chat)
        if let name = request.model, !name.isEmpty, name != model.id, !model.id.hasPrefix(name), !name.hasPrefix(model.id) {
            throw APIError.notFound("The model '\(name)' does not exist. The loaded model is '\(model.id)'.", param: "model", code: "model_not_found")
        }
        let prompt = try model.promptTokens(for: request)
        let room = model.contextLength - prompt.count
        if room < 1 || (request.maxTokens.map { prompt.count + $0 > model.contextLength } ?? false) {
            let completion = request.maxTokens ?? 1
            throw APIError.invalid("This model's maximum context length is \(model.contextLength) tokens. However, you requested \(prompt.count + completion) tokens (\(prompt.count) in the messages, \(completion) in the completion). Please reduce the length of the messages or completion.",
                                   param: "messages", code: "context_length_exceeded")
        }
        let stream = try model.generate(prompt: prompt, parameters: request.sampling, maxTokens: request.maxTokens ?? room, stop: request.stop)
        let id = Responses.newID(chat ? "chatcmpl" : "cmpl")
        let created = Int(Date().timeIntervalSince1970)
        let tools = Set(request.tools.compactMap { tool -> String? in
            if case .object(let t) = tool, case .object(let f)? = t["function"], case .string(let n)? = f["name"] { return n }
            return nil
        })
        let parseTools = chat && !tools.isEmpty && request.toolChoice != .none
        // Reasoning models open with `<think>`; the splitter follows the tags from there.
        if request.stream {
            return streamResponse(stream, id: id, created: created, chat: chat, request: request, tools: tools, parseTools: parseTools,
                                  reasoning: false)
        }
        return try await collectedResponse(stream, id: id, created: created, chat: chat, tools: tools, parseTools: parseTools, reasoning: false)
    }

    private func collectedResponse(_ stream: AsyncStream<ChatModel.Event>, id: String, created: Int, chat: Bool,
                                   tools: Set<String>, parseTools: Bool, reasoning: Bool) async throws -> Response {
        var text = ""
        var finished: GenerationResult?
        for await event in stream {
            switch event {
            case .text(let t): text += t
            case .finished(let r): finished = r
            case .failed(let e): throw e
            case .keepAlive: break
            }
        }
        guard let result = finished else { throw APIError.internalError() }
        var splitter = ReasoningSplitter(startsInReasoning: reasoning)
        let (r1, c1) = splitter.feed(text)
        let (r2, c2) = splitter.flush()
        let reasoningText = r1 + r2
        var content = c1 + c2
        var calls: [ToolCall] = []
        if parseTools {
            (content, calls) = model.toolFormat.parse(content, tools: tools)
        }
        let finish = !calls.isEmpty ? "tool_calls" : result.finishReason == .length ? "length" : "stop"
        let kind = chat ? "chat.completion" : "text_completion"
        var choice: [(String, Value)] = [("index", .int(0))]
        if chat {
            var message: [(String, Value)] = [("role", .string("assistant")), ("content", calls.isEmpty || !content.isEmpty ? .string(content) : .none)]
            if !reasoningText.isEmpty { message.append(("reasoning_content", .string(reasoningText))) }
            if !calls.isEmpty { message.append(("tool_calls", Responses.toolCalls(calls))) }
            choice.append(("message", Responses.object(message)))
        } else {
            choice.append(("text", .string(text)))
        }
        choice.append(("finish_reason", .string(finish)))
        let body = Responses.object(Responses.header(id: id, object: kind, model: model.id, created: created)
            + [("choices", .array([Responses.object(choice)])), ("usage", Responses.usage(result))])
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: body.compactJSON)))
    }

    private func streamResponse(_ stream: AsyncStream<ChatModel.Event>, id: String, created: Int, chat: Bool, request: ChatRequest,
                                tools: Set<String>, parseTools: Bool, reasoning: Bool) -> Response {
        let modelID = model.id
        let format = model.toolFormat
        let includeUsage = request.includeUsage
        let body = ResponseBody { writer in
            func send(_ s: String) async throws { try await writer.write(ByteBuffer(string: s)) }
            // Headers and a first byte go out at once (Kibana's timeouts count from the request).
            try await send(": wick\n\n")
            if chat {
                try await send(Responses.chunk(id: id, model: modelID, created: created, delta: [("role", .string("assistant")), ("content", .string(""))]))
            }
            var splitter = ReasoningSplitter(startsInReasoning: reasoning)
            var held = ""        // text that may be a tool call, not yet sent
            var holding = false
            var result: GenerationResult?
            func emit(content: String, reasoning: String) async throws {
                if !reasoning.isEmpty {
                    try await send(Responses.chunk(id: id, model: modelID, created: created, delta: [("reasoning_content", .string(reasoning))]))
                }
                guard !content.isEmpty else { return }
                if chat {
                    try await send(Responses.chunk(id: id, model: modelID, created: created, delta: [("content", .string(content))]))
                } else {
                    try await send(Responses.event(Responses.object(Responses.header(id: id, object: "text_completion", model: modelID, created: created)
                        + [("choices", .array([Responses.object([("index", .int(0)), ("text", .string(content)), ("finish_reason", .none)])]))])))
                }
            }
            func route(_ content: String, _ reasoningPart: String) async throws {
                guard parseTools else { return try await emit(content: content, reasoning: reasoningPart) }
                // Hold text back while it could still be the start of a tool call.
                held += content
                if !holding {
                    let trimmed = held.drop(while: { $0.isWhitespace })
                    if trimmed.isEmpty { return try await emit(content: "", reasoning: reasoningPart) }
                    if format.openingMarkers.contains(where: { trimmed.hasPrefix($0) || $0.hasPrefix(trimmed) }) {
                        holding = true
                    } else if let marker = held.range(of: "<tool_call>") {
                        let before = String(held[..<marker.lowerBound])
                        held = String(held[marker.lowerBound...])
                        holding = true
                        return try await emit(content: before, reasoning: reasoningPart)
                    } else {
                        let keep = (1..<"<tool_call>".count).reversed().first { held.hasSuffix("<tool_call>".prefix($0)) } ?? 0
                        let ready = String(held.dropLast(keep))
                        held = String(held.suffix(keep))
                        return try await emit(content: ready, reasoning: reasoningPart)
                    }
                }
                try await emit(content: "", reasoning: reasoningPart)
            }
            for await event in stream {
                switch event {
                case .keepAlive: try await send(": keep-alive\n\n")
                case .text(let t):
                    let (r, c) = splitter.feed(t)
                    try await route(c, r)
                case .finished(let r): result = r
                case .failed(let e): try await send(Responses.event(e.body))
                }
            }
            let (r, c) = splitter.flush()
            try await route(c, r)
            guard let result else {
                try await send(Responses.event(APIError.internalError("The generation ended unexpectedly.").body))
                try await writer.finish(nil)
                return
            }
            var finish = result.finishReason == .length ? "length" : "stop"
            if parseTools && !held.isEmpty {
                let (content, calls) = format.parse(held, tools: tools)
                if calls.isEmpty {
                    try await emit(content: held, reasoning: "")
                } else {
                    if !content.isEmpty { try await emit(content: content, reasoning: "") }
                    for (i, call) in calls.enumerated() {
                        try await send(Responses.chunk(id: id, model: modelID, created: created, delta: [("tool_calls", .array([Responses.object([
                            ("index", .int(i)), ("id", .string(call.id)), ("type", .string("function")),
                            ("function", Responses.object([("name", .string(call.name)), ("arguments", .string(""))])),
                        ])]))]))
                        try await send(Responses.chunk(id: id, model: modelID, created: created, delta: [("tool_calls", .array([Responses.object([
                            ("index", .int(i)), ("function", Responses.object([("arguments", .string(call.arguments))])),
                        ])]))]))
                    }
                    finish = "tool_calls"
                }
            }
            if chat {
                try await send(Responses.chunk(id: id, model: modelID, created: created, delta: [], finish: finish))
            } else {
                try await send(Responses.event(Responses.object(Responses.header(id: id, object: "text_completion", model: modelID, created: created)
                    + [("choices", .array([Responses.object([("index", .int(0)), ("text", .string("")), ("finish_reason", .string(finish))])]))])))
            }
            if includeUsage {
                try await send(Responses.event(Responses.object(Responses.header(id: id, object: chat ? "chat.completion.chunk" : "text_completion", model: modelID, created: created)
                    + [("choices", .array([])), ("usage", Responses.usage(result))])))
            }
            try await send("data: [DONE]\n\n")
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}
