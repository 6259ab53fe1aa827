import ArgumentParser
import Foundation
import ModelStore

/// `wick elastic connect --elasticsearch URL`: creates (or updates) a `chat_completion` inference
/// endpoint, and with `--embeddings` a `text_embedding` one, that call this service with a key Wick
/// issues for them; then streams one test call through Elasticsearch. On failure nothing it created
/// is left behind.
struct ElasticConnect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "connect", abstract: "Create Elasticsearch inference endpoints that use this Wick service.")

    @Option(help: "Elasticsearch's URL, e.g. https://es.example:9200.") var elasticsearch: String
    @Option(help: "An Elasticsearch API key (encoded form), or set ES_API_KEY.") var esApiKey: String?
    @Option(help: "An Elasticsearch user instead of an API key (password from WICK_ES_PASSWORD, or asked).") var user: String?
    @Option(help: "The loaded model to use for chat (default: the only or the most recently loaded).") var model: String?
    @Option(help: "A loaded model to serve embeddings (a text_embedding endpoint for semantic_text).") var embeddings: String?
    @Option(help: "The chat endpoint's id (default wick-chat; the embeddings one gets -embeddings appended).") var id = "wick-chat"
    @Option(help: "The URL Elasticsearch should call Wick at (default: worked out from the service's address).") var wickURL: String?
    @Option(help: "The PEM file of the CA that signed Elasticsearch's certificate.") var caCert: String?
    @Flag(help: "Do not verify Elasticsearch's certificate (self-signed test clusters only).") var insecure = false
    @Flag(help: "Print the requests instead of sending them; no key is issued.") var dryRun = false

    struct Endpoint {
        let task: String
        let id: String
        let model: String
        let path: String
    }

    func run() async throws {
        let home = WickHome.fromEnvironment()
        guard let target = URL(string: elasticsearch), target.scheme == "http" || target.scheme == "https", target.host != nil else {
            throw ValidationError("--elasticsearch must be an http(s) URL")
        }
        let service = try ServiceClient.require(home: home)
        guard let state = ServiceState.read(home) else { throw CLIError("no local Wick service is running; start it with `wick server start`") }
        let loaded = try await Self.loadedModels(service)
        let chatModel = try Self.pick(model, loaded: loaded)
        var endpoints = [Endpoint(task: "chat_completion", id: id, model: chatModel, path: "/v1/chat/completions")]
        if let embeddings {
            endpoints.append(Endpoint(task: "text_embedding", id: id + "-embeddings", model: try Self.pick(embeddings, loaded: loaded), path: "/v1/embeddings"))
        }
        let base = try wickURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? AdvertisedURL.base(service: state, client: target)
        let es = try ElasticsearchClient(url: elasticsearch, credentials: try credentials(), caCertificate: caCert, insecure: insecure, dryRun: dryRun)
        do {
            try await connect(es, endpoints: endpoints, base: base, home: home, target: target)
        } catch {
            await es.shutdown()
            throw error
        }
        await es.shutdown()
    }

    private func connect(_ es: ElasticsearchClient, endpoints: [Endpoint], base: String, home: WickHome, target: URL) async throws {
        if !dryRun {
            let info = try await es.send("GET", "/")
            guard info.status == 200 else { throw CLIError("Elasticsearch at \(elasticsearch) refused the request (\(info.status)): \(info.reason)") }
        }
        // Each run issues a new key; the endpoints' earlier keys are revoked once all went well.
        let store = APIKeyStore(home: home)
        let keyPrefix = "elasticsearch \(target.host ?? "")/\(id)#"
        let keyName = keyPrefix + String(Int(Date().timeIntervalSince1970))
        let key = dryRun ? "wick-dry-run" : try store.issue(name: keyName)
        var created: [Endpoint] = [], updated: [Endpoint] = []
        do {
            for endpoint in endpoints {
                let settings: [String: Any] = ["api_key": key, "model_id": endpoint.model, "url": base + endpoint.path]
                let path = "/_inference/\(endpoint.task)/\(endpoint.id)"
                let existing = try await es.send("GET", path)
                if existing.status == 404 || dryRun {
                    let reply = try await es.send("PUT", path, ["service": "openai", "service_settings": settings], secrets: [key])
                    guard reply.status == 200 else { throw CLIError("creating \(endpoint.task) endpoint \(endpoint.id) failed (\(reply.status)): \(reply.reason)") }
                    created.append(endpoint)
                } else if existing.status == 200 {
                    let current = ((existing.json["endpoints"] as? [[String: Any]])?.first?["service_settings"] as? [String: Any]) ?? [:]
                    guard current["url"] as? String == base + endpoint.path, current["model_id"] as? String == endpoint.model else {
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
            // An endpoint already switched to the new key keeps it; otherwise the key goes.
            if updated.isEmpty && !dryRun { _ = try? store.revoke(name: keyName) }
            throw error
        }
        if dryRun { return }
        for entry in store.entries() where entry.name.hasPrefix(keyPrefix) && entry.name != keyName { _ = try? store.revoke(name: entry.name) }

        for endpoint in endpoints {
            print("\(created.contains { $0.id == endpoint.id } ? "created" : "updated") \(endpoint.task) endpoint \(endpoint.id): \(endpoint.model) at \(base + endpoint.path)")
        }
        let reply = try await es.streamText("/_inference/chat_completion/\(id)/_stream",
                                            ["messages": [["role": "user", "content": "Reply with one short sentence: are you there?"]],
                                             "max_completion_tokens": 48])
        print("test call through Elasticsearch: \(reply.trimmingCharacters(in: .whitespacesAndNewlines))")
        print("In Kibana, choose the inference endpoint \(id) for the AI Assistant and Agent Builder\(embeddings == nil ? "" : "; use \(id)-embeddings as the inference_id of semantic_text fields").")
    }

    private func credentials() throws -> ElasticsearchClient.Credentials {
        let environment = ProcessInfo.processInfo.environment
        if let key = esApiKey ?? environment["ES_API_KEY"], !key.isEmpty { return .apiKey(key) }
        if let user {
            if let password = environment["WICK_ES_PASSWORD"] { return .basic(user: user, password: password) }
            guard Terminal.isInteractive, let typed = getpass("Password for \(user): ") else {
                throw CLIError("set WICK_ES_PASSWORD for --user \(user), or run in a terminal to type it")
            }
            return .basic(user: user, password: String(cString: typed))
        }
        throw ValidationError("give --es-api-key (or ES_API_KEY), or --user")
    }

    /// The loaded instances' identifiers in load order.
    static func loadedModels(_ service: ServiceClient) async throws -> [String] {
        let instances = try await service.get("/api/v1/instances")["instances"] as? [[String: Any]] ?? []
        return instances.filter { $0["status"] as? String != "loading" }.compactMap { $0["identifier"] as? String }
    }

    static func pick(_ name: String?, loaded: [String]) throws -> String {
        guard let last = loaded.last else {
            throw CLIError("no model is loaded: load one with a context Elastic can use, e.g. `wick load MODEL --context-length 65536`")
        }
        guard let name else { return last }
        guard let match = loaded.first(where: { $0.lowercased() == name.lowercased() }) else {
            throw CLIError("'\(name)' is not loaded (loaded: \(loaded.joined(separator: ", "))); `wick load \(name)` first")
        }
        return match
    }
}
