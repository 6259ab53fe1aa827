/// Elasticsearch inference endpoints (service `openai`): a `chat_completion` one and optionally a
/// `text_embedding` one. An endpoint of the same id that calls the same model at the same URL is
/// updated (its key only, as Elasticsearch allows); one that calls something else is left alone.
struct InferenceEndpoints: ElasticTarget {
    struct Endpoint {
        let task: String
        let id: String
        let model: String
        let url: String
    }

    let host: String
    let endpoints: [Endpoint]
    let dryRun: Bool

    var component: String { "Elasticsearch" }
    var keyName: String { "elasticsearch \(host)/\(endpoints[0].id)" }

    func apply(_ es: ElasticsearchClient, key: String) async throws -> [String] {
        var created: [Endpoint] = [], updated: [Endpoint] = []
        do {
            for endpoint in endpoints {
                let path = "/_inference/\(endpoint.task)/\(endpoint.id)"
                let existing = try await es.send("GET", path)
                if existing.status == 404 || dryRun {
                    let settings: [String: Any] = ["api_key": key, "model_id": endpoint.model, "url": endpoint.url]
                    let reply = try await es.send("PUT", path, ["service": "openai", "service_settings": settings], secrets: [key])
                    guard reply.status == 200 else { throw CLIError("creating \(endpoint.task) endpoint \(endpoint.id) failed (\(reply.status)): \(reply.reason)") }
                    created.append(endpoint)
                } else if existing.status == 200 {
                    let current = ((existing.json["endpoints"] as? [[String: Any]])?.first?["service_settings"] as? [String: Any]) ?? [:]
                    guard current["url"] as? String == endpoint.url, current["model_id"] as? String == endpoint.model else {
                        throw CLIError("""
                            the \(endpoint.task) endpoint \(endpoint.id) exists and calls \(current["model_id"] as? String ?? "?") at \
                            \(current["url"] as? String ?? "?"); choose another --id, or delete it first (DELETE _inference/\(endpoint.task)/\(endpoint.id))
                            """)
                    }
                    let reply = try await es.send("PUT", path + "/_update", ["service_settings": ["api_key": key]], secrets: [key])
                    guard reply.status == 200 else { throw CLIError("updating \(endpoint.task) endpoint \(endpoint.id) failed (\(reply.status)): \(reply.reason)") }
                    updated.append(endpoint)
                } else {
                    throw CLIError("reading \(endpoint.task) endpoint \(endpoint.id) failed (\(existing.status)): \(existing.reason)")
                }
            }
        } catch {
            for endpoint in created { _ = try? await es.send("DELETE", "/_inference/\(endpoint.task)/\(endpoint.id)") }
            throw ApplyFailure(reason: "\(error)", keyInUse: !updated.isEmpty)
        }
        return endpoints.map { endpoint in
            "\(created.contains { $0.id == endpoint.id } ? "created" : "updated") \(endpoint.task) endpoint \(endpoint.id): \(endpoint.model) at \(endpoint.url)"
        }
    }

    func test(_ es: ElasticsearchClient) async throws -> String {
        try await es.streamText("/_inference/chat_completion/\(endpoints[0].id)/_stream",
                                ["messages": [["role": "user", "content": "Reply with one short sentence: are you there?"]], "max_completion_tokens": 48])
    }
}
