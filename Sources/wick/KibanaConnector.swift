import Foundation

/// Kibana's OpenAI connector (`.gen-ai`, provider Other) through the Connectors API: created, or
/// updated when a `.gen-ai` connector of that name exists; tested with the connector's own run action
/// (Kibana calls Wick and checks the reply).
struct KibanaConnector: ElasticTarget {
    let host: String
    let name: String
    let model: String
    let url: String
    let contextWindow: Int?
    let nativeTools: Bool
    let dryRun: Bool
    /// The connector's id once found or created (a class box: `apply` runs on a value).
    final class Found { var id: String? }
    let found = Found()

    var component: String { "Kibana" }
    var keyName: String { "kibana \(host)/\(name)" }

    func apply(_ kibana: ElasticsearchClient, key: String) async throws -> [String] {
        var config: [String: Any] = ["apiProvider": "Other", "apiUrl": url, "defaultModel": model]
        if nativeTools { config["enableNativeFunctionCalling"] = true }
        if let contextWindow { config["contextWindowLength"] = contextWindow }
        let existing: [String: Any]?
        do {
            let list = try await kibana.send("GET", "/api/actions/connectors")
            guard list.status == 200 else { throw CLIError("listing Kibana's connectors failed (\(list.status)): \(list.reason)") }
            existing = (list.array ?? []).first { $0["name"] as? String == name && $0["connector_type_id"] as? String == ".gen-ai" }
        } catch {
            throw ApplyFailure(reason: "\(error)", keyInUse: false)
        }
        if let existing, let id = existing["id"] as? String, !dryRun {
            let reply = try await kibana.send("PUT", "/api/actions/connector/\(id)", ["name": name, "config": config, "secrets": ["apiKey": key]], secrets: [key])
            guard reply.status == 200 else { throw ApplyFailure(reason: "updating connector \(name) failed (\(reply.status)): \(reply.reason)", keyInUse: false) }
            found.id = id
            return ["updated connector \(name) (\(id)): \(model) at \(url)"]
        }
        let reply = try await kibana.send("POST", "/api/actions/connector",
                                          ["name": name, "connector_type_id": ".gen-ai", "config": config, "secrets": ["apiKey": key]], secrets: [key])
        guard reply.status == 200, let id = reply.json["id"] as? String ?? (dryRun ? "" : nil) else {
            throw ApplyFailure(reason: "creating connector \(name) failed (\(reply.status)): \(reply.reason)", keyInUse: false)
        }
        found.id = id
        return ["created connector \(name) (\(id)): \(model) at \(url)"]
    }

    func test(_ kibana: ElasticsearchClient) async throws -> String {
        guard let id = found.id else { return "" }
        let body = try JSONSerialization.data(withJSONObject: ["model": model, "messages": [["role": "user", "content": "Reply with one short sentence: are you there?"]]])
        let reply = try await kibana.send("POST", "/api/actions/connector/\(id)/_execute",
                                          ["params": ["subAction": "run", "subActionParams": ["body": String(decoding: body, as: UTF8.self)]]])
        guard reply.status == 200, reply.json["status"] as? String == "ok" else {
            let detail = reply.json["service_message"] as? String ?? reply.reason
            throw CLIError("the connector's test run failed: \(detail)")
        }
        let choices = (reply.json["data"] as? [String: Any])?["choices"] as? [[String: Any]]
        return (choices?.first?["message"] as? [String: Any])?["content"] as? String ?? ""
    }
}
