import Foundation
import GGUF
import Hummingbird
import Models
import Templates

/// Ollama's API, for the many tools that speak it: `chat`, `generate` and `embed` on the host's
/// models (as `model` names them, loaded just in time like any request), and what Ollama lists:
/// `tags` (the models there are), `ps` (the loaded ones), `show` (one model's facts), `version`;
/// `pull` of hub models (`OllamaPull`) and `delete`. A request's `keep_alive` sets how long its
/// model stays loaded. Errors are Ollama's `{"error": "…"}` with the HTTP status.
struct OllamaAPI: Sendable {
    let host: ModelHost
    let downloads: DownloadJobs?
    let limit: Int

    /// The Ollama release whose API this follows (clients read it to know what they may use).
    static let version = "0.12.0"

    func register(on router: Router<WickRequestContext>) {
        let host = self.host, limit = self.limit
        router.get("api/version") { _, _ in WickServer.json(Responses.object([("version", .string(Self.version))])) }
        router.get("api/tags") { _, _ in
            let instances = await host.instances
            var models = instances.map { Self.entry(name: $0.identifier, path: $0.model.path) }
            let loadedKeys = Set(instances.compactMap(\.key))
            for stored in host.store?.models() ?? [] where !loadedKeys.contains(stored.key) {
                models.append(Self.entry(name: stored.key, path: stored.path.path, facts: stored.facts()))
            }
            return WickServer.json(Responses.object([("models", .array(models))]))
        }
        router.get("api/ps") { _, _ in
            let models = await host.instances.map { i in
                var extra: [(String, Value)] = [("size_vram", .int(0)), ("context_length", .int(i.model.contextLength))]
                if let left = ModelHost.ttlLeft(i) { extra.append(("expires_at", .string(OllamaChatHandler.timestamp(Date().addingTimeInterval(Double(left)))))) }
                return Self.entry(name: i.identifier, path: i.model.path, size: i.model.weightsBytes + i.model.kvCacheBytes, extra: extra)
            }
            return WickServer.json(Responses.object([("models", .array(models))]))
        }
        for path in ["api/show", "api/chat", "api/generate", "api/embed", "api/embeddings"] {
            router.post(RouterPath(path)) { request, context -> Response in
                try await Self.answer {
                    let body = try FieldReader.object(json: try await WickServer.body(of: request, limit: limit))
                    let name = try await Self.modelName(body, host: host)
                    if path == "api/show" { return WickServer.json(try await Self.show(name, host: host)) }
                    let keepAlive = try OllamaKeepAlive.parse(body["keep_alive"])
                    let chat = path == "api/chat"
                    if keepAlive == .seconds(0), path != "api/embed", path != "api/embeddings", OllamaChatHandler.asksNothing(body, chat: chat) {
                        return OllamaChatHandler.nothingDone(model: try await host.unload(name), chat: chat, reason: "unload")
                    }
                    let model = try await host.model(named: name)
                    let finished: @Sendable () async -> Void = { if let keepAlive { await host.keepAlive(model, ttl: keepAlive.ttl) } }
                    guard chat || path == "api/generate" else {
                        let response = try await Self.embed(body, legacy: path == "api/embeddings", model: model)
                        await finished()
                        return response
                    }
                    var handler = OllamaChatHandler(model: model)
                    handler.finished = finished
                    // Ollama streams unless asked not to.
                    return try await WickServer.generating(context, streamed: body["stream"] != .bool(false)) { [handler] in
                        try await handler.handle(body: body, chat: chat)
                    }
                }
            }
        }
        router.post("api/pull") { request, _ -> Response in
            try await Self.answer {
                guard let downloads else { throw APIError.notFound("Downloads need a model store.", code: "unsupported") }
                return try await OllamaPull(downloads: downloads).handle(body: try FieldReader.object(json: try await WickServer.body(of: request, limit: limit)))
            }
        }
        router.delete("api/delete") { request, _ -> Response in
            try await Self.answer {
                let body = try FieldReader.object(json: try await WickServer.body(of: request, limit: limit))
                let name = try await Self.modelName(body, host: host)
                // Only a whole key or a hub name: a prefix never deletes anything.
                guard let store = host.store, let stored = store.models().first(where: { $0.key.lowercased() == name.lowercased() }) else {
                    throw APIError.notFound("model '\(name)' not found", param: "model", code: "model_not_found")
                }
                for i in await host.instances where i.key == stored.key { _ = try? await host.unload(i.identifier) }
                do { try store.remove(stored) } catch { throw APIError.internalError("\(stored.key) could not be deleted: \(error)") }
                return Response(status: .ok)
            }
        }
    }

    /// The body's `model` (or `name`); a hub name (`hf.co/…`) of a downloaded model becomes its key.
    static func modelName(_ body: Value.Object, host: ModelHost) async throws -> String {
        let f = FieldReader(body)
        guard let name = try f.string("model") ?? f.string("name"), !name.isEmpty else {
            throw APIError.invalid("'model' is required.", param: "model")
        }
        guard let hubName = OllamaModelName(name) else { return name }
        return hubName.stored(in: host.store?.models() ?? [])?.key ?? name
    }

    /// The route's answer, or its error as Ollama writes errors.
    static func answer(_ work: () async throws -> Response) async throws -> Response {
        do {
            return try await work()
        } catch let error as APIError {
            return WickServer.response(error, body: Responses.object([("error", .string(error.message))]))
        }
    }

    /// `/api/embed` (`input`: a string or strings, cut to the context unless `truncate` is false) and
    /// the older `/api/embeddings` (`prompt`: one string).
    static func embed(_ body: Value.Object, legacy: Bool, model: ChatModel) async throws -> Response {
        var input = body[legacy ? "prompt" : "input"]
        if legacy, case .string(let s)? = input, s.isEmpty { input = nil }
        var request = try EmbeddingsHandler.Request(body: Value.Object([("input", input ?? .none), ("dimensions", body["dimensions"] ?? .none)]))
        request.truncate = try FieldReader(body).bool("truncate") ?? true
        let started = ContinuousClock.now
        let (vectors, tokens) = try await EmbeddingsHandler(model: model).vectors(request)
        func floats(_ v: [Float]) -> Value { .array(v.map { .double(Double($0)) }) }
        if legacy { return WickServer.json(Responses.object([("embedding", floats(vectors.first ?? []))])) }
        let elapsed = ContinuousClock.now - started
        return WickServer.json(Responses.object([
            ("model", .string(model.id)), ("embeddings", .array(vectors.map(floats))),
            ("total_duration", .int(Int(elapsed.components.seconds) * 1_000_000_000 + Int(elapsed.components.attoseconds / 1_000_000_000))),
            ("load_duration", .int(0)), ("prompt_eval_count", .int(tokens)),
        ]))
    }

    /// `/api/show`: a loaded or downloaded model's details, chat template and metadata, read from
    /// its file (the model is not loaded for it).
    static func show(_ name: String, host: ModelHost) async throws -> Value {
        let lower = name.lowercased()
        let path: String
        if let i = await host.instances.first(where: { $0.identifier.lowercased() == lower || $0.key?.lowercased() == lower }) {
            path = i.model.path
        } else if let stored = try? host.store?.resolve(name) {
            path = stored.path.path
        } else {
            throw APIError.notFound("model '\(name)' not found", param: "model", code: "model_not_found")
        }
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch { throw APIError.invalid("\(path) cannot be read: \(error)", param: "model") }
        let facts = ModelFacts(file: file, fallbackName: name)
        var info = Value.Object()
        for key in file.metadata.keys.sorted() {
            if let value = file.metadata[key].flatMap(scalar) { info[key] = value }
        }
        var capabilities: [Value] = [.string("completion")]
        if PromptBuilder(template: file.chatTemplate, bosText: "", eosText: "").rendersTools { capabilities.append(.string("tools")) }
        if ArchitectureRegistry.isEmbeddingOnly(facts.architecture) { capabilities = [.string("embedding")] }
        return Responses.object([
            ("modelfile", .string("FROM \(path)\n")), ("parameters", .string("")), ("template", .string(file.chatTemplate ?? "")),
            ("details", details(facts)), ("model_info", .object(info)), ("capabilities", .array(capabilities)),
            ("modified_at", .string(OllamaChatHandler.timestamp(modified(path)))),
        ])
    }

    /// A model as `tags` and `ps` list it.
    static func entry(name: String, path: String, facts: ModelFacts? = nil, size: Int? = nil, extra: [(String, Value)] = []) -> Value {
        let facts = facts ?? (try? GGUFFile(path: path)).map { ModelFacts(file: $0, fallbackName: name) }
        return Responses.object([
            ("name", .string(name)), ("model", .string(name)), ("modified_at", .string(OllamaChatHandler.timestamp(modified(path)))),
            ("size", .int(size ?? facts?.sizeBytes ?? 0)), ("details", facts.map(details) ?? Responses.object([("format", .string("gguf"))])),
        ] + extra)
    }

    static func details(_ facts: ModelFacts) -> Value {
        Responses.object([
            ("parent_model", .string("")), ("format", .string("gguf")), ("family", .string(facts.architecture)),
            ("families", .array([.string(facts.architecture)])), ("parameter_size", .string(ModelFacts.humanCount(facts.parameters))),
            ("quantization_level", .string(facts.quantization)),
        ])
    }

    private static func modified(_ path: String) -> Date {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date) ?? Date(timeIntervalSince1970: 0)
    }

    /// A metadata value as `model_info` shows it; arrays (the vocabulary, merges) are left out.
    private static func scalar(_ v: GGUFValue) -> Value? {
        switch v {
        case .uint8(let x): .int(Int(x))
        case .int8(let x): .int(Int(x))
        case .uint16(let x): .int(Int(x))
        case .int16(let x): .int(Int(x))
        case .uint32(let x): .int(Int(x))
        case .int32(let x): .int(Int(x))
        case .uint64(let x): Int(exactly: x).map(Value.int)
        case .int64(let x): .int(Int(x))
        case .float32(let x): .double(Double(x))
        case .float64(let x): .double(x)
        case .bool(let x): .bool(x)
        case .string(let x): .string(x)
        case .array: nil
        }
    }
}
