import ArgumentParser
import Foundation
import ModelStore

/// `wick elastic connect`: makes Elastic call this service, with a key Wick issues for it (kept hashed;
/// a later run issues a new one and revokes the old). `--elasticsearch`: a `chat_completion` inference
/// endpoint (and with `--embeddings` a `text_embedding` one), then a streamed test call through
/// Elasticsearch. `--kibana`: the OpenAI connector through Kibana's Connectors API, then the
/// connector's own test run. On failure nothing it created is left behind.
struct ElasticConnect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "connect", abstract: "Make Elasticsearch (inference endpoints) or Kibana (the OpenAI connector) use this Wick service.")

    @Option(help: "Elasticsearch's URL, e.g. https://es.example:9200: create inference endpoints.") var elasticsearch: String?
    @Option(help: "Kibana's URL, e.g. https://kibana.example:5601: create the OpenAI connector (older stacks; 9.5+ without the UI).") var kibana: String?
    @Option(help: "An Elasticsearch API key (encoded form), or set ES_API_KEY.") var esApiKey: String?
    @Option(help: "A Kibana API key (encoded form), or set KIBANA_API_KEY.") var kibanaApiKey: String?
    @Option(help: "An Elastic user instead of an API key (password from WICK_ES_PASSWORD, or asked).") var user: String?
    @Option(help: "The loaded model to use for chat (default: the only or the most recently loaded).") var model: String?
    @Option(help: "A loaded model to serve embeddings (a text_embedding endpoint for semantic_text).") var embeddings: String?
    @Option(help: "The chat endpoint's id (the embeddings one gets -embeddings appended), or the connector's name.") var id: String?
    @Flag(help: "Kibana: let the connector send tools natively (enableNativeFunctionCalling).") var nativeTools = false
    @Option(help: "The URL Elastic should call Wick at (default: worked out from the service's address).") var wickURL: String?
    @Option(help: "The PEM file of the CA that signed Elastic's certificate.") var caCert: String?
    @Flag(help: "Do not verify Elastic's certificate (self-signed test clusters only).") var insecure = false
    @Flag(help: "Print the requests instead of sending them; no key is issued.") var dryRun = false

    func validate() throws {
        guard (elasticsearch == nil) != (kibana == nil) else { throw ValidationError("give one of --elasticsearch URL or --kibana URL") }
        if kibana != nil && embeddings != nil { throw ValidationError("--embeddings needs --elasticsearch (semantic_text uses inference endpoints)") }
    }

    func run() async throws {
        let home = WickHome.fromEnvironment()
        let address = elasticsearch ?? kibana ?? ""
        guard let url = URL(string: address), url.scheme == "http" || url.scheme == "https", let host = url.host else {
            throw ValidationError("\(address) is not an http(s) URL")
        }
        let service = try ServiceClient.require(home: home)
        guard let state = ServiceState.read(home) else { throw CLIError("no local Wick service is running; start it with `wick server start`") }
        let loaded = try await Self.loadedModels(service)
        let chat = try Self.pick(model, loaded: loaded)
        let base = try wickURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? AdvertisedURL.base(service: state, client: url)
        let target: any ElasticTarget
        if elasticsearch != nil {
            let chatID = id ?? "wick-chat"
            var endpoints = [InferenceEndpoints.Endpoint(task: "chat_completion", id: chatID, model: chat.id, url: base + "/v1/chat/completions")]
            if let embeddings {
                endpoints.append(.init(task: "text_embedding", id: chatID + "-embeddings", model: try Self.pick(embeddings, loaded: loaded).id, url: base + "/v1/embeddings"))
            }
            target = InferenceEndpoints(host: host, endpoints: endpoints, dryRun: dryRun)
        } else {
            target = KibanaConnector(host: host, name: id ?? "Wick", model: chat.id, url: base + "/v1/chat/completions",
                                     contextWindow: chat.contextLength, nativeTools: nativeTools, dryRun: dryRun)
        }
        let client = try ElasticsearchClient(url: address, credentials: try credentials(), extraHeaders: kibana == nil ? [] : [("kbn-xsrf", "true")],
                                             caCertificate: caCert, insecure: insecure, dryRun: dryRun)
        do {
            try await connect(target, client, home: home)
        } catch {
            await client.shutdown()
            throw error
        }
        await client.shutdown()
    }

    private func connect(_ target: any ElasticTarget, _ client: ElasticsearchClient, home: WickHome) async throws {
        if !dryRun {
            let check = try await client.send("GET", kibana == nil ? "/" : "/api/status")
            guard check.status == 200 else { throw CLIError("\(target.component) at \(client.base) refused the request (\(check.status)): \(check.reason)") }
        }
        let store = APIKeyStore(home: home)
        let keyName = target.keyName + "#" + String(Int(Date().timeIntervalSince1970 * 1000))
        let key = dryRun ? "wick-dry-run" : try store.issue(name: keyName)
        let lines: [String]
        do {
            lines = try await target.apply(client, key: key)
        } catch let failure as ApplyFailure {
            if !failure.keyInUse && !dryRun { _ = try? store.revoke(name: keyName) }
            throw CLIError(failure.reason)
        }
        if dryRun { return }
        for entry in store.entries() where entry.name.hasPrefix(target.keyName + "#") && entry.name != keyName { _ = try? store.revoke(name: entry.name) }
        lines.forEach { print($0) }
        let reply = try await target.test(client)
        print("test call through \(target.component): \(reply.trimmingCharacters(in: .whitespacesAndNewlines))")
        if elasticsearch != nil {
            let chatID = id ?? "wick-chat"
            print("In Kibana, choose the inference endpoint \(chatID) for the AI Assistant and Agent Builder\(embeddings == nil ? "" : "; use \(chatID)-embeddings as the inference_id of semantic_text fields").")
        } else {
            print("In Kibana, choose the connector \(id ?? "Wick") in the AI Assistant's settings.")
        }
    }

    private func credentials() throws -> ElasticsearchClient.Credentials {
        let environment = ProcessInfo.processInfo.environment
        let key = kibana == nil ? esApiKey ?? environment["ES_API_KEY"] : kibanaApiKey ?? environment["KIBANA_API_KEY"]
        if let key, !key.isEmpty { return .apiKey(key) }
        if let user {
            if let password = environment["WICK_ES_PASSWORD"] { return .basic(user: user, password: password) }
            guard Terminal.isInteractive, let typed = getpass("Password for \(user): ") else {
                throw CLIError("set WICK_ES_PASSWORD for --user \(user), or run in a terminal to type it")
            }
            return .basic(user: user, password: String(cString: typed))
        }
        throw ValidationError(kibana == nil ? "give --es-api-key (or ES_API_KEY), or --user" : "give --kibana-api-key (or KIBANA_API_KEY), or --user")
    }

    struct Loaded {
        let id: String
        let contextLength: Int?
    }

    /// The loaded instances in load order.
    static func loadedModels(_ service: ServiceClient) async throws -> [Loaded] {
        let instances = try await service.get("/api/v1/instances")["instances"] as? [[String: Any]] ?? []
        return instances.filter { $0["status"] as? String != "loading" }.compactMap { instance in
            (instance["identifier"] as? String).map { Loaded(id: $0, contextLength: instance["context_length"] as? Int) }
        }
    }

    static func pick(_ name: String?, loaded: [Loaded]) throws -> Loaded {
        guard let last = loaded.last else {
            throw CLIError("no model is loaded: load one with a context Elastic can use, e.g. `wick load MODEL --context-length 65536`")
        }
        guard let name else { return last }
        guard let match = loaded.first(where: { $0.id.lowercased() == name.lowercased() }) else {
            throw CLIError("'\(name)' is not loaded (loaded: \(loaded.map(\.id).joined(separator: ", "))); `wick load \(name)` first")
        }
        return match
    }
}
