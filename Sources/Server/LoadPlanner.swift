import Foundation
import GGUF
import Models
import ModelStore

/// Where a load's model is and what it takes: the store name or path resolved, the file opened
/// once (the load uses the same mapping), the context length defaulted and checked, and the memory
/// estimated. The service plans every load with it; `wick load` plans locally with it to show the
/// estimate or refuse before asking the service.
public struct LoadPlanner: Sendable {
    public let store: ModelStore?
    public let settings: Settings
    /// Worker threads of the pool the model will run on (their attention scratch counts).
    public let threads: Int
    /// Sequences a model generates at once when a load does not say (LM Studio's default is 4).
    public let defaultParallel: Int
    /// How keys and values are stored when a load does not say.
    public let defaultKVCacheType: KVCacheType
    let availableMemory: @Sendable () -> Int64

    /// The largest context a model may be loaded with (positions are 32-bit in places).
    public static let maxContextLength = 1 << 24
    public static let maxParallel = 64

    public init(store: ModelStore?, settings: Settings, threads: Int, defaultParallel: Int = 4, defaultKVCacheType: KVCacheType = .f16,
                availableMemory: @escaping @Sendable () -> Int64 = { SystemMemory.current().availableBytes }) {
        self.store = store
        self.settings = settings
        self.threads = threads
        self.defaultParallel = defaultParallel
        self.defaultKVCacheType = defaultKVCacheType
        self.availableMemory = availableMemory
    }

    public struct Plan: Sendable {
        public let key: String?
        public let path: String
        public let file: GGUFFile
        public let contextLength: Int
        /// Sequences generated at once (each may reach the context length).
        public let parallel: Int
        public let kvCacheType: KVCacheType
        public let estimate: MemoryEstimate
        public let availableBytes: Int64

        public var fits: Bool { estimate.totalBytes <= availableBytes }
    }

    /// The context a model gets when none is asked for: the setting, else the trained length, at most 8192.
    public func defaultContextLength(trained: Int) -> Int {
        settings.defaultContextLength ?? min(trained, 8192)
    }

    /// Plans loading `model` (a store name or a GGUF path) for `contextLength` tokens (or the default).
    public func plan(_ model: String, contextLength: Int?, parallel: Int? = nil, kvCacheType: KVCacheType? = nil) throws -> Plan {
        let (key, path) = try locate(model)
        return try plan(key: key, path: path, contextLength: contextLength, parallel: parallel, kvCacheType: kvCacheType)
    }

    /// Plans loading a model already located.
    func plan(key: String?, path: String, contextLength: Int?, parallel: Int? = nil, kvCacheType: KVCacheType? = nil) throws -> Plan {
        let file: GGUFFile
        do { file = try GGUFFile(path: path) } catch {
            throw APIError.invalid("\(path) cannot be loaded: \(error)", param: "model", code: "model_load_failed")
        }
        let context = contextLength ?? defaultContextLength(trained: file.contextLength ?? 2048)
        guard (16...Self.maxContextLength).contains(context) else {
            throw APIError.invalid("A context length must be between 16 and \(Self.maxContextLength) tokens, not \(context).", param: "context_length")
        }
        let parallel = parallel ?? defaultParallel, kvCacheType = kvCacheType ?? defaultKVCacheType
        guard (1...Self.maxParallel).contains(parallel) else {
            throw APIError.invalid("'parallel' must be between 1 and \(Self.maxParallel), not \(parallel).", param: "parallel")
        }
        let estimate: MemoryEstimate
        do { estimate = try MemoryEstimate(gguf: file, contextLength: context, parallel: parallel, kvCacheType: kvCacheType, threads: threads) } catch {
            throw APIError.invalid("\(path) cannot be loaded: \(error)", param: "model", code: "model_load_failed")
        }
        guard kvCacheType.supports(headDim: estimate.headDim) else {
            throw APIError.invalid("A \(kvCacheType.rawValue) KV cache needs a head size that is a multiple of 32; this model's is \(estimate.headDim). Use f16.", param: "kv_cache_type")
        }
        return Plan(key: key, path: path, file: file, contextLength: context, parallel: parallel, kvCacheType: kvCacheType, estimate: estimate, availableBytes: availableMemory())
    }

    /// A file path (`/…`, `./…`, `~/…`, or an existing `.gguf` file), else a store name.
    private func locate(_ model: String) throws -> (key: String?, path: String) {
        let expanded = NSString(string: model).expandingTildeInPath
        if model.hasPrefix("/") || model.hasPrefix(".") || model.hasPrefix("~") || (model.hasSuffix(".gguf") && FileManager.default.fileExists(atPath: expanded)) {
            guard FileManager.default.fileExists(atPath: expanded) else {
                throw APIError.notFound("No file at \(model).", param: "model", code: "model_not_found")
            }
            return (nil, URL(fileURLWithPath: expanded).standardizedFileURL.path)
        }
        guard let store else { throw APIError.notFound("No model store is configured; give a GGUF file path.", param: "model", code: "model_not_found") }
        do {
            let stored = try store.resolve(model)
            return (stored.key, stored.path.path)
        } catch let error as StoreError {
            throw APIError.notFound("\(error)".prefix(1).uppercased() + "\(error)".dropFirst() + ".", param: "model", code: "model_not_found")
        }
    }

    /// The refusal of a plan that does not fit, with its numbers.
    static func insufficientMemory(_ plan: Plan) -> APIError {
        let e = plan.estimate
        return APIError(status: 507, message: "Not enough memory to load \(plan.key ?? plan.path) with a context of \(plan.contextLength) tokens: it needs \(ModelFacts.humanBytes(Int(e.totalBytes))) (weights \(ModelFacts.humanBytes(Int(e.weightsBytes))), KV cache \(ModelFacts.humanBytes(Int(e.kvCacheBytes))), scratch \(ModelFacts.humanBytes(Int(e.scratchBytes)))) and \(ModelFacts.humanBytes(Int(plan.availableBytes))) is available. Choose a smaller context length.",
                        type: "invalid_request_error", param: "context_length", code: "insufficient_memory")
    }
}
