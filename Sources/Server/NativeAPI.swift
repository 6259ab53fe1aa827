import Foundation
import Models
import GGUF
import Hummingbird
import ModelStore
import Templates

/// Wick's own REST API under `/api/v1`, shaped like LM Studio's so tools written for it work, and
/// what the `wick` CLI uses: downloaded models, load and unload, loaded instances, downloads, status.
struct NativeAPI: Sendable {
    let host: ModelHost
    let downloads: DownloadJobs?
    let limit: Int
    /// Where the service listens and whether it answers other web origins: in the status, and changed by `PUT /api/v1/server`.
    let listener: ListenerSettings

    static let version = "0.3.0"

    func register(on router: Router<WickRequestContext>) {
        let host = self.host, downloads = self.downloads, limit = self.limit, listener = self.listener
        router.get("api/v1/status") { _, _ in
            let instances = await host.instances
            let listening = listener.setting
            return WickServer.json(Responses.object([
                ("running", .bool(true)), ("version", .string(Self.version)), ("pid", .int(Int(ProcessInfo.processInfo.processIdentifier))),
                ("loaded", .array(instances.map { .string($0.identifier) })), ("queued", .int(host.queue.queued)),
                ("bind", .string(listening.host)), ("port", .int(listening.port)), ("cors", .bool(listening.cors)),
            ]))
        }
        router.get("api/v1/models") { _, _ in
            let instances = await host.instances
            let models = (host.store?.models() ?? []).map { stored in
                Self.describe(stored, instances: instances.filter { $0.key == stored.key })
            }
            return WickServer.json(Responses.object([("models", .array(models))]))
        }
        router.get("api/v1/instances") { _, _ in
            let instances = await host.instances
            let loading = await host.loadingIdentifiers
            let rows = instances.map { Self.describe($0) } + loading.map { id in
                Responses.object([("identifier", .string(id)), ("model", .string(id)), ("status", .string("loading"))])
            }
            return WickServer.json(Responses.object([("instances", .array(rows))]))
        }
        router.post("api/v1/models/load") { request, _ in
            let body = try FieldReader.object(json: try await WickServer.body(of: request, limit: limit))
            let f = FieldReader(body)
            guard let model = try f.string("model"), !model.isEmpty else { throw APIError.invalid("'model' is required.", param: "model") }
            let load = ModelHost.LoadRequest(model: model, contextLength: try f.integer("context_length", in: 1...Int(Int32.max)),
                                             parallel: try f.integer("parallel", in: 1...LoadPlanner.maxParallel),
                                             kvCacheType: try Self.kvCacheType(f),
                                             ttl: try f.integer("ttl", in: 1...Int(Int32.max)), identifier: try f.string("identifier"))
            if try f.bool("estimate_only") == true {
                let plan = try host.planner.plan(model, contextLength: load.contextLength, parallel: load.parallel, kvCacheType: load.kvCacheType)
                return WickServer.json(Self.describe(plan))
            }
            let instance = try await host.load(load)
            return WickServer.json(Responses.object([
                ("type", .string("llm")), ("instance_id", .string(instance.identifier)), ("status", .string("loaded")),
                ("load_time_seconds", .double(instance.loadSeconds)),
                ("load_config", Responses.object([("context_length", .int(instance.model.contextLength)), ("parallel", .int(instance.model.parallel)),
                                                   ("kv_cache_type", .string(instance.model.kvCacheType.rawValue)), ("ttl", instance.ttl.map(Value.int) ?? .none)])),
            ]))
        }
        router.post("api/v1/models/unload") { request, _ in
            let body = try FieldReader.object(json: try await WickServer.body(of: request, limit: limit))
            let f = FieldReader(body)
            if try f.bool("all") == true {
                return WickServer.json(Responses.object([("unloaded", .array(await host.unloadAll().map(Value.string)))]))
            }
            guard let id = try f.string("instance_id") else { throw APIError.invalid("'instance_id' (or \"all\": true) is required.", param: "instance_id") }
            let identifier = try await host.unload(id)
            return WickServer.json(Responses.object([("instance_id", .string(identifier)), ("unloaded", .array([.string(identifier)]))]))
        }
        // Serve the local network (every interface) or this machine only, answer other web origins or
        // not: applied at once, on the same port, running requests going on where they are.
        router.put("api/v1/server") { request, _ in
            let f = FieldReader(try FieldReader.object(json: try await WickServer.body(of: request, limit: limit)))
            var wanted = listener.setting
            if let everywhere = try f.bool("local_network") { wanted.host = everywhere ? "0.0.0.0" : "127.0.0.1" }
            if let cors = try f.bool("cors") { wanted.cors = cors }
            let served: ListenerSettings.Setting
            do {
                served = try await listener.change(to: wanted)
            } catch ListenerSettings.ChangeError.notServing {
                throw APIError(status: 503, message: "This server's listener cannot be changed now.", type: "server_error", code: "not_serving")
            } catch {
                throw APIError(status: 409, message: "Cannot serve on \(wanted.host): \(error). Still serving on \(listener.setting.host).",
                               type: "invalid_request_error", code: "address_unavailable")
            }
            return WickServer.json(Responses.object([("bind", .string(served.host)), ("port", .int(served.port)), ("cors", .bool(served.cors))]))
        }
        router.post("api/v1/models/download") { request, _ in
            guard let downloads else { throw APIError.notFound("Downloads need a model store.", code: "unsupported") }
            let f = FieldReader(try FieldReader.object(json: try await WickServer.body(of: request, limit: limit)))
            guard let model = try f.string("model") else { throw APIError.invalid("'model' (OWNER/REPO[@QUANT]) is required.", param: "model") }
            return WickServer.json(Self.describe(try await downloads.start(model, allowUntrusted: try f.bool("allow_untrusted") ?? false)))
        }
        router.get("api/v1/models/download/status/:job") { _, context in
            let id = context.parameters.get("job") ?? ""
            guard let job = await downloads?.job(id) else { throw APIError.notFound("No download job '\(id)'.", param: "job_id") }
            return WickServer.json(Self.describe(job))
        }
    }

    static func describe(_ stored: StoredModel, instances: [ModelHost.Instance]) -> Value {
        ModelListing.entry(stored, loaded: instances.map { ($0.identifier, $0.model.contextLength) })
    }

    /// `kv_cache_type`: "f16" or "q8_0" (nil: the service's default).
    static func kvCacheType(_ f: FieldReader) throws -> KVCacheType? {
        guard let name = try f.string("kv_cache_type") else { return nil }
        guard let type = KVCacheType(rawValue: name) else {
            throw APIError.invalid("'kv_cache_type' must be one of \(KVCacheType.allCases.map(\.rawValue).joined(separator: ", ")), not '\(name)'.", param: "kv_cache_type")
        }
        return type
    }

    /// A loaded instance as `wick ps` shows it.
    static func describe(_ i: ModelHost.Instance) -> Value {
        Responses.object([
            ("identifier", .string(i.identifier)), ("model", .string(i.key ?? i.model.path)), ("path", .string(i.model.path)),
            ("status", .string(i.model.activeRequests > 0 ? "generating" : "idle")),
            ("size_bytes", .int(i.model.weightsBytes + i.model.kvCacheBytes)), ("context_length", .int(i.model.contextLength)),
            ("parallel", .int(i.model.parallel)), ("ttl_seconds", ModelHost.ttlLeft(i).map(Value.int) ?? .none), ("queued", .int(i.model.activeRequests)),
            ("tools", .bool(i.model.templateRendersTools)), ("embedding_length", .int(i.model.embeddingSize)),
        ])
    }

    static func describe(_ plan: LoadPlanner.Plan) -> Value {
        let e = plan.estimate
        return Responses.object([
            ("model", .string(plan.key ?? plan.path)), ("context_length", .int(plan.contextLength)), ("parallel", .int(plan.parallel)), ("kv_cache_type", .string(plan.kvCacheType.rawValue)),
            ("estimate", Responses.object([("weights_bytes", .int(Int(e.weightsBytes))), ("kv_cache_bytes", .int(Int(e.kvCacheBytes))),
                                           ("scratch_bytes", .int(Int(e.scratchBytes))), ("total_bytes", .int(Int(e.totalBytes)))])),
            ("available_bytes", .int(Int(plan.availableBytes))), ("fits", .bool(plan.fits)),
        ])
    }

    static func describe(_ job: DownloadJobs.Job) -> Value {
        Responses.object([
            ("job_id", .string(job.id)), ("status", .string(job.status)), ("model", .string(job.model)),
            ("total_size_bytes", .int(Int(job.totalBytes))), ("downloaded_bytes", .int(Int(job.downloadedBytes))),
            ("bytes_per_second", .double(job.bytesPerSecond)), ("eta_seconds", job.secondsLeft.map { .double($0) } ?? .none),
            ("key", job.key.map(Value.string) ?? .none), ("error", job.error.map(Value.string) ?? .none),
        ])
    }
}
