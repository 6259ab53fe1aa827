import ArgumentParser
import Foundation
import Models
import ModelStore
import Server

struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Load a model into the running service with a context length.")

    @Argument(help: "A downloaded model's key (or unique short name), or a GGUF path.") var model: String
    @Option(name: [.short, .customLong("context-length")], help: "Context length in tokens (used exactly as asked, or the load fails).") var contextLength: Int?
    @Option(help: "Sequences generated at once, each up to the context length (default: the service's, 4).") var parallel: Int?
    @Option(help: "How keys and values are stored: f16, or q8_0 (about half the memory; default: the service's).") var kvCacheType: KVCacheType?
    @Option(help: "GPU offload (off, max or 0..1): this build runs on the CPU.") var gpu: String?
    @Option(help: "Unload after this many idle seconds.") var ttl: Int?
    @Option(help: "The instance's name in requests (default: the key; a second instance gets KEY:2).") var identifier: String?
    @Flag(help: "Print the memory estimate and exit.") var estimateOnly = false
    @Flag(name: [.short, .long], help: "Answer yes to questions.") var yes = false
    @OptionGroup var service: ServiceOptions

    func validate() throws {
        if let ttl, ttl < 1 { throw ValidationError("--ttl must be at least 1 second") }
        if let contextLength, contextLength < 1 { throw ValidationError("--context-length must be positive") }
        if let parallel, !(1...LoadPlanner.maxParallel).contains(parallel) { throw ValidationError("--parallel must be between 1 and \(LoadPlanner.maxParallel)") }
        if let gpu, gpu != "off", gpu != "max", !(Double(gpu).map { (0...1).contains($0) } ?? false) {
            throw ValidationError("--gpu takes off, max or a fraction from 0 to 1")
        }
    }

    func run() async throws {
        if let gpu, gpu != "off" { Terminal.err("note: this build of Wick runs on the CPU; --gpu \(gpu) changes nothing") }
        let home = WickHome.fromEnvironment()
        if service.isRemote { return try await loadRemotely() }
        let planner = LoadPlanner(store: ModelStore(home: home), settings: try Settings.load(from: home),
                                  threads: ProcessInfo.processInfo.activeProcessorCount)
        let plan: LoadPlanner.Plan
        do { plan = try planner.plan(model, contextLength: contextLength, parallel: parallel, kvCacheType: kvCacheType) } catch let error as APIError { throw CLIError(error.message) }
        let e = plan.estimate
        let summary = "\(plan.key ?? plan.path) with a context of \(plan.contextLength) tokens (\(plan.parallel) at once) needs about \(Terminal.bytes(e.totalBytes)) (weights \(Terminal.bytes(e.weightsBytes)), KV cache \(Terminal.bytes(e.kvCacheBytes)), scratch \(Terminal.bytes(e.scratchBytes))); \(Terminal.bytes(plan.availableBytes)) is available"
        if estimateOnly {
            print(summary + (plan.fits ? "." : ": it does not fit."))
            return
        }
        guard plan.fits else { throw CLIError(summary + ": not enough memory. Choose a smaller --context-length.") }
        try await send(["model": plan.key ?? plan.path, "context_length": plan.contextLength], name: plan.key ?? plan.path)
    }

    /// A service on another machine plans and checks the load against its own store and memory.
    private func loadRemotely() async throws {
        var body: [String: Any] = ["model": model]
        if let contextLength { body["context_length"] = contextLength }
        if estimateOnly {
            body["estimate_only"] = true
            let reply = try await service.client().post("/api/v1/models/load", body)
            let e = reply["estimate"] as? [String: Any] ?? [:]
            let total = Int64(e["total_bytes"] as? Int ?? 0), available = Int64(reply["available_bytes"] as? Int ?? 0)
            print("\(model) with a context of \(reply["context_length"] as? Int ?? 0) tokens needs about \(Terminal.bytes(total)); \(Terminal.bytes(available)) is available on the service's machine\(reply["fits"] as? Bool == true ? "." : ": it does not fit.")")
            return
        }
        try await send(body, name: model)
    }

    private func send(_ base: [String: Any], name: String) async throws {
        let client = try service.client()
        var body = base
        if let ttl { body["ttl"] = ttl }
        if let parallel { body["parallel"] = parallel }
        if let kvCacheType { body["kv_cache_type"] = kvCacheType.rawValue }
        if let identifier { body["identifier"] = identifier }
        let spinner = Task {
            guard Terminal.stderrIsTTY else { return }
            let started = ContinuousClock.now
            while !Task.isCancelled {
                let s = ContinuousClock.now - started
                FileHandle.standardError.write(Data("\rloading \(name)… \(s.components.seconds) s\u{1B}[K".utf8))
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
        defer {
            spinner.cancel()
            if Terminal.stderrIsTTY { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        }
        let reply = try await client.post("/api/v1/models/load", body)
        let id = reply["instance_id"] as? String ?? "?"
        let context = (reply["load_config"] as? [String: Any])?["context_length"] as? Int ?? 0
        print("Loaded \(name) as \(id) (context \(context)) in \(String(format: "%.2f", reply["load_time_seconds"] as? Double ?? 0)) s")
        print(id)
    }
}
