import Foundation

/// Requests shaped as Kibana's connector and Elasticsearch's inference client send them, each with a
/// judge that applies those clients' rules to the reply (`../shared/kibana`, `../shared/elastic`).
struct ElasticReplays {
    struct Replay {
        let name: String
        /// Sends the request and returns a one-line verdict, or throws why a client would reject it.
        let run: (ServiceClient) async throws -> String
    }

    let model: String

    static var alertsTool: [String: Any] { ["type": "function", "function": [
        "name": "get_alerts", "description": "Get the alerts that fired in a time range",
        "parameters": ["type": "object", "properties": ["start": ["type": "string"], "end": ["type": "string"]], "required": ["start", "end"]],
    ]] }
    static var titleTool: [String: Any] { ["type": "function", "function": [
        "name": "title_conversation", "description": "Title the conversation",
        "parameters": ["type": "object", "properties": ["title": ["type": "string"]], "required": ["title"]],
    ]] }

    var all: [Replay] {
        [
            Replay(name: "connector test") { service in
                // Kibana's Test button: non-streaming, and no model named.
                let reply = try await service.post("/v1/chat/completions", ["messages": [["role": "user", "content": "Hello there"]]])
                try Self.judgeNonStreaming(reply)
                return "answered as the connector requires"
            },
            Replay(name: "conversation title") { service in
                let reply = try await service.post("/v1/chat/completions", [
                    "model": model, "stream": false, "temperature": 0, "tools": [Self.titleTool],
                    "tool_choice": ["type": "function", "function": ["name": "title_conversation"]],
                    "messages": [["role": "user", "content": "Why is the checkout service slow since this morning?"]],
                ])
                try Self.judgeNonStreaming(reply)
                let call = ((reply["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["tool_calls"] as? [[String: Any]]
                let function = call?.first?["function"] as? [String: Any]
                guard function?["name"] as? String == "title_conversation" else { throw CLIError("the forced title_conversation call was not made") }
                guard let arguments = function?["arguments"] as? String,
                      (try? JSONSerialization.jsonObject(with: Data(arguments.utf8))) as? [String: Any] != nil else {
                    throw CLIError("title_conversation's arguments are not a JSON object (Kibana validates them against the tool's schema)")
                }
                return "the forced tool was called with JSON arguments"
            },
            Replay(name: "first turn with tools") { service in
                let chunks = try await Self.stream(service, [
                    "model": model, "stream": true, "temperature": 0, "tools": [Self.alertsTool], "tool_choice": "auto",
                    "messages": [["role": "system", "content": "You are an observability assistant."],
                                 ["role": "user", "content": "Which alerts fired in the last hour?"]],
                ])
                return try Self.judgeStream(chunks)
            },
            Replay(name: "tool-result turn") { service in
                let chunks = try await Self.stream(service, [
                    "model": model, "stream": true, "temperature": 0, "tools": [Self.alertsTool],
                    "messages": [["role": "user", "content": "Which alerts fired in the last hour?"],
                                 ["role": "assistant", "content": "", "tool_calls": [["id": "x1y2z3", "type": "function",
                                                                                       "function": ["name": "get_alerts", "arguments": "{\"start\":\"now-1h\",\"end\":\"now\"}"]]]],
                                 ["role": "tool", "tool_call_id": "x1y2z3", "content": "{\"alerts\":[{\"rule\":\"CPU > 90%\",\"host\":\"web-1\"}]}"]],
                ])
                return try Self.judgeStream(chunks)
            },
            Replay(name: "simulated function calling") { service in
                // Kibana's default for provider Other: no tools, the call format in the system prompt.
                let system = "You can call tools. To call one, answer with <|tool_use_start|>\n```json\n{\"name\":\"get_alerts\",\"input\":{\"start\":\"now-1h\",\"end\":\"now\"}}\n```<|tool_use_end|>"
                let chunks = try await Self.stream(service, [
                    "model": model, "stream": true, "temperature": 0,
                    "messages": [["role": "system", "content": system], ["role": "user", "content": "Which alerts fired in the last hour?"]],
                ])
                if chunks.contains(where: { (($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["tool_calls"] != nil }) {
                    throw CLIError("a reply without tools in the request carried native tool_calls")
                }
                return try Self.judgeStream(chunks)
            },
            Replay(name: "embeddings") { service in
                // Elasticsearch's creation probe, base64 as its newest releases ask.
                let reply = try await service.post("/v1/embeddings", ["model": model, "input": ["how big"], "encoding_format": "base64"])
                guard let data = reply["data"] as? [[String: Any]], data.count == 1, let text = data[0]["embedding"] as? String,
                      let bytes = Data(base64Encoded: text), bytes.count % 4 == 0, !bytes.isEmpty else {
                    throw CLIError("the embeddings reply is not one base64 vector")
                }
                let values: [Float] = bytes.withUnsafeBytes { raw in
                    (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
                }
                let norm = values.reduce(0) { $0 + $1 * $1 }.squareRoot()
                guard abs(norm - 1) < 1e-3 else { throw CLIError("the vector's length is \(norm), not 1 (dot_product similarity rejects it)") }
                return "\(values.count) dimensions, unit length"
            },
        ]
    }

    static func stream(_ service: ServiceClient, _ body: [String: Any]) async throws -> [[String: Any]] {
        var chunks: [[String: Any]] = []
        try await service.stream("/v1/chat/completions", body) { chunks.append($0) }
        return chunks
    }

    /// Kibana's non-streaming rules: numeric usage, a role on every message, optional fields never null.
    static func judgeNonStreaming(_ reply: [String: Any]) throws {
        let usage = reply["usage"] as? [String: Any] ?? [:]
        for key in ["prompt_tokens", "completion_tokens", "total_tokens"] where !(usage[key] is Int) {
            throw CLIError("usage.\(key) is missing (Kibana: Response validation failed)")
        }
        for key in ["id", "object", "created", "model"] where reply[key] is NSNull {
            throw CLIError("\(key) is null")
        }
        guard let choices = reply["choices"] as? [[String: Any]], !choices.isEmpty else { throw CLIError("no choices") }
        for choice in choices {
            guard (choice["message"] as? [String: Any])?["role"] is String else { throw CLIError("choices[].message.role is missing") }
            if choice["finish_reason"] is NSNull || choice["index"] is NSNull { throw CLIError("finish_reason or index is null") }
        }
    }

    /// Kibana's and Elasticsearch's stream rules: every chunk an object `chat.completion.chunk` with a
    /// string id and a choices array, every choice a delta, every tool-call delta an index, content a
    /// string when present, and no `finish_reason: "length"` (Kibana treats it as an error).
    static func judgeStream(_ chunks: [[String: Any]]) throws -> String {
        guard !chunks.isEmpty else { throw CLIError("the stream held no chunk") }
        var text = "", calls = 0
        for chunk in chunks {
            guard chunk["object"] as? String == "chat.completion.chunk" else { throw CLIError("a chunk without object chat.completion.chunk (Kibana drops it)") }
            guard chunk["id"] is String, let choices = chunk["choices"] as? [Any] else { throw CLIError("a chunk without a string id and a choices array") }
            for case let choice as [String: Any] in choices {
                guard let delta = choice["delta"] as? [String: Any], choice["index"] is Int else { throw CLIError("a choice without index and delta") }
                if let content = delta["content"], !(content is String) { throw CLIError("delta.content is not a string") }
                text += delta["content"] as? String ?? ""
                for case let call as [String: Any] in delta["tool_calls"] as? [Any] ?? [] {
                    guard call["index"] is Int else { throw CLIError("a tool-call delta without index") }
                    if call["id"] != nil { calls += 1 }
                }
                if choice["finish_reason"] as? String == "length" { throw CLIError("finish_reason length (Kibana treats it as an error)") }
            }
        }
        return calls > 0 ? "streamed \(calls) tool call\(calls == 1 ? "" : "s") as the clients require" : "streamed \(text.count) characters as the clients require"
    }
}
