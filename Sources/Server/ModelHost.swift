import Foundation
import GGUF
import Logging
import Models
import ModelStore
import Templates

/// The loaded models of the service: loads (explicit, or just in time when a request names a
/// downloaded model), identifiers, routing of a request's `model` field, unloading and idle TTL.
/// A load of the same model requested by several requests at once happens once. Unloading drops
/// the host's reference: a generation still running keeps the model until it ends, then its memory
/// is released.
public actor ModelHost {
    public struct Instance: Sendable {
        public let identifier: String
        /// The store key, or nil for a file loaded by path.
        public let key: String?
        public let model: ChatModel
        /// Idle seconds before unloading (nil: stays loaded).
        public var ttl: Int?
        public let loadSeconds: Double
    }

    /// What a load asks for.
    public struct LoadRequest: Sendable {
        /// A store name (key, short name, unique prefix) or a GGUF file path.
        public var model: String
        public var contextLength: Int?
        /// Sequences generated at once (nil: the service's default).
        public var parallel: Int?
        /// How keys and values are stored (nil: the service's default).
        public var kvCacheType: KVCacheType?
        public var ttl: Int?
        public var identifier: String?

        public init(model: String, contextLength: Int? = nil, parallel: Int? = nil, kvCacheType: KVCacheType? = nil,
                    ttl: Int? = nil, identifier: String? = nil) {
            self.model = model
            self.contextLength = contextLength
            self.parallel = parallel
            self.kvCacheType = kvCacheType
            self.ttl = ttl
            self.identifier = identifier
        }
    }

    public let queue: InferenceQueue
    public let planner: LoadPlanner
    /// Bounds on each rendering of a loaded model's chat template.
    public let templateLimits: Template.Limits
    public nonisolated var store: ModelStore? { planner.store }
    public nonisolated var settings: Settings { planner.settings }
    public private(set) var instances: [Instance] = []
    /// Loads under way, by the identifier they will have.
    private var loading: [String: Task<Instance, Error>] = [:]
    private let logger = Logger(label: "wick.host")
    /// Set by `watchFileChanges`: loaded files are then leased, and unloaded when they change.
    private var fileWatch: ModelFileWatch?

    public init(queue: InferenceQueue, store: ModelStore?, settings: Settings = Settings(), defaultParallel: Int = 4,
                defaultKVCacheType: KVCacheType = .f16, templateLimits: Template.Limits = Template.Limits(),
                availableMemory: @escaping @Sendable () -> Int64 = { SystemMemory.current().availableBytes }) {
        SystemHeap.fixThresholds
        self.queue = queue
        self.templateLimits = templateLimits
        planner = LoadPlanner(store: store, settings: settings, threads: queue.pool.count, defaultParallel: defaultParallel,
                              defaultKVCacheType: defaultKVCacheType, availableMemory: availableMemory)
    }

    /// From now on, loaded models' files are leased against changes in place: a model whose file
    /// another process truncates or opens for writing is unloaded (its generations end with a 503
    /// `model_file_changed`), and the change goes ahead once its mapping is released. A file being
    /// written when a load starts is refused. Renaming a new file into place changes nothing loaded.
    public func watchFileChanges() {
        guard fileWatch == nil else { return }
        fileWatch = ModelFileWatch { [weak self] models in
            Task { await self?.unload(withdrawn: models) }
        }
    }

    /// Drops the instances of models withdrawn because their files are changing.
    private func unload(withdrawn models: [ChatModel]) {
        guard !models.isEmpty else { return }
        remove { instance in models.contains { $0 === instance.model } }
    }

    /// Identifiers of loads under way.
    public var loadingIdentifiers: [String] { Array(loading.keys).sorted() }

    /// Loads a model; refuses, with the numbers, when the machine's free memory cannot hold it.
    @discardableResult
    public func load(_ request: LoadRequest) async throws -> Instance {
        let plan = try planner.plan(request.model, contextLength: request.contextLength, parallel: request.parallel, kvCacheType: request.kvCacheType)
        let base = request.identifier ?? plan.key ?? URL(fileURLWithPath: plan.path).deletingPathExtension().lastPathComponent
        let identifier: String
        if request.identifier != nil {
            guard !isTaken(base) else {
                throw APIError(status: 409, message: "An instance named '\(base)' is already loaded.", type: "invalid_request_error", param: "identifier", code: "identifier_taken")
            }
            identifier = base
        } else {
            var n = 1
            while isTaken(n == 1 ? base : "\(base):\(n)") { n += 1 }
            identifier = n == 1 ? base : "\(base):\(n)"
        }
        return try await start(identifier: identifier, plan: plan, ttl: request.ttl)
    }

    private func isTaken(_ identifier: String) -> Bool {
        instances.contains { $0.identifier == identifier } || loading[identifier] != nil
    }

    /// Runs the load off the actor (it builds the tokenizer and checks every tensor), registered so
    /// that concurrent requests for the same identifier wait for this one. A plan that does not fit
    /// in memory is refused here, for explicit and just-in-time loads alike.
    private func start(identifier: String, plan: LoadPlanner.Plan, ttl: Int?) async throws -> Instance {
        guard plan.fits else { throw LoadPlanner.insufficientMemory(plan) }
        if fileWatch != nil {
            switch plan.file.takeReadLeases() {
            case .taken: break
            case .busy:
                throw APIError(status: 409, message: "\(plan.path) is being written by another process; load it when it is complete.",
                               type: "invalid_request_error", param: "model", code: "model_file_busy")
            case .unavailable:
                logger.notice("\(plan.path) cannot be leased (a file system without leases, or another user's file): a change in place while it is loaded would stop the service")
            }
        }
        let queue = self.queue
        let prefixCache = store.map { (directory: $0.home.cache, bytes: settings.prefixCacheBytes) }
        let templateLimits = self.templateLimits
        let task = Task.detached { () throws -> Instance in
            let started = ContinuousClock.now
            let model = try ChatModel(file: plan.file, path: plan.path, id: identifier, contextLength: plan.contextLength,
                                      parallel: plan.parallel, kvCacheType: plan.kvCacheType, prefixCache: prefixCache,
                                      templateLimits: templateLimits, queue: queue)
            let elapsed = ContinuousClock.now - started
            return Instance(identifier: identifier, key: plan.key, model: model, ttl: ttl,
                            loadSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
        }
        loading[identifier] = task
        defer { loading[identifier] = nil }
        do {
            let instance = try await task.value
            instances.append(instance)
            if let fileWatch {
                fileWatch.watch(instance.model)
                unload(withdrawn: fileWatch.withdrawChanged())
            }
            logger.info("loaded \(identifier) (\(plan.path), context \(plan.contextLength), \(plan.parallel) at once) in \(String(format: "%.2f", instance.loadSeconds)) s")
            return instance
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError.invalid("\(plan.path) cannot be loaded: \(error)", param: "model", code: "model_load_failed")
        }
    }

    /// Unloads one instance (by identifier, or the only instance of a key); returns its identifier.
    @discardableResult
    public func unload(_ name: String) throws -> String {
        guard let index = instances.firstIndex(where: { $0.identifier == name }) ?? uniqueIndex(ofKey: name) else {
            throw APIError.notFound("No loaded instance is named '\(name)'. Loaded: \(instances.map(\.identifier).joined(separator: ", ")).",
                                    param: "instance_id", code: "model_not_found")
        }
        let identifier = instances[index].identifier
        remove { $0.identifier == identifier }
        logger.info("unloaded \(identifier)")
        return identifier
    }

    public func unloadAll() -> [String] {
        let ids = remove { _ in true }
        if !ids.isEmpty { logger.info("unloaded \(ids.joined(separator: ", "))") }
        return ids
    }

    /// Drops the host's references to the instances `match` selects (a model with no request running
    /// is freed at once), then hands the heap the tokenizer and caches used back to the system.
    @discardableResult
    private func remove(where match: (Instance) -> Bool) -> [String] {
        var ids: [String] = []
        do {  // the removed instances must be released before the heap is trimmed
            let removed = instances.filter(match)
            instances.removeAll(where: match)
            // A model still generating is freed when its generation ends: trimmed then, by `sweep`.
            releasing += removed.filter { $0.model.activeRequests > 0 }.map { Released(model: $0.model) }
            ids = removed.map(\.identifier)
        }
        if !ids.isEmpty { SystemHeap.trim() }
        return ids
    }

    /// A model unloaded while a generation held it.
    private struct Released { weak var model: ChatModel? }
    private var releasing: [Released] = []

    private func uniqueIndex(ofKey key: String) -> Int? {
        let matches = instances.indices.filter { instances[$0].key?.lowercased() == key.lowercased() }
        return matches.count == 1 ? matches[0] : nil
    }

    /// The model a request's `model` field names: a loaded instance (identifier, key, or a name that
    /// one identifier starts with or extends), else a downloaded model loaded just in time. A name
    /// that matches nothing is a 404 listing what there is; a request is never answered by another model.
    public func model(named name: String?) async throws -> ChatModel {
        guard let name, !name.isEmpty else {
            if let first = instances.first { return first.model }
            throw APIError.notFound("No model is loaded. Name a downloaded model in 'model' (\(available().joined(separator: ", "))) or load one with `wick load`.",
                                    param: "model", code: "model_not_found")
        }
        let lower = name.lowercased()
        if let i = instances.first(where: { $0.identifier.lowercased() == lower }) { return i.model }
        if let task = loading[name] { return try await task.value.model }
        if let i = instances.first(where: { $0.key?.lowercased() == lower }) { return i.model }
        let near = instances.filter { $0.identifier.lowercased().hasPrefix(lower) || lower.hasPrefix($0.identifier.lowercased()) }
        if near.count == 1 { return near[0].model }
        if let store {
            let stored: StoredModel
            do {
                stored = try store.resolve(name)
            } catch let error as StoreError {
                throw APIError.notFound("The model '\(name)' does not exist: \(error). Loaded: \(instances.map(\.identifier).joined(separator: ", ")).",
                                        param: "model", code: "model_not_found")
            }
            if let i = instances.first(where: { $0.key == stored.key }) { return i.model }
            if let task = loading[stored.key] { return try await task.value.model }
            guard settings.jitLoading else {
                throw APIError.notFound("The model '\(stored.key)' is downloaded but not loaded, and loading on request is off: `wick load \(stored.key)`.",
                                        param: "model", code: "model_not_loaded")
            }
            let plan = try planner.plan(key: stored.key, path: stored.path.path, contextLength: nil)
            return try await start(identifier: stored.key, plan: plan, ttl: settings.jitTTLSeconds).model
        }
        throw APIError.notFound("The model '\(name)' does not exist. Available: \(available().joined(separator: ", ")).", param: "model", code: "model_not_found")
    }

    /// Loaded identifiers, then downloaded keys not loaded (when loading on request is on).
    public func available() -> [String] {
        let loaded = instances.map(\.identifier)
        guard settings.jitLoading, let store else { return loaded }
        let keys = Set(instances.compactMap(\.key))
        return loaded + store.models().map(\.key).filter { !keys.contains($0) }
    }

    /// Unloads instances idle past their TTL (a model with a request waiting or running is never
    /// unloaded), and returns the heap of models that finished their last generation after unloading.
    public func sweep(now: ContinuousClock.Instant = .now) {
        if releasing.contains(where: { $0.model == nil }) {
            releasing.removeAll { $0.model == nil }
            SystemHeap.trim()
        }
        let expired = instances.compactMap { i -> (String, Int)? in
            guard let ttl = i.ttl, i.model.activeRequests == 0, now - i.model.lastUsed >= .seconds(ttl) else { return nil }
            return (i.identifier, ttl)
        }
        for (identifier, ttl) in expired {
            remove { $0.identifier == identifier }
            logger.info("unloaded \(identifier): idle for \(ttl) s")
        }
    }

    /// Ollama's `keep_alive` after a request: `model` stays loaded for `ttl` idle seconds from now
    /// on (nil: for good); zero unloads it at once unless another request runs on it.
    public func keepAlive(_ model: ChatModel, ttl: Int?) {
        guard let index = instances.firstIndex(where: { $0.model === model }) else { return }
        instances[index].ttl = ttl
        sweep()
    }

    /// Seconds before an instance's TTL unloads it (nil without TTL).
    public nonisolated static func ttlLeft(_ i: Instance, now: ContinuousClock.Instant = .now) -> Int? {
        guard let ttl = i.ttl else { return nil }
        let idle = i.model.activeRequests > 0 ? .zero : now - i.model.lastUsed
        return max(0, ttl - Int(idle.components.seconds))
    }
}
