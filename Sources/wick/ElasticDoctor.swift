import ArgumentParser
import Foundation
import ModelStore

/// `wick elastic doctor`: whether this service is ready for Elastic, one line per check (OK, WARN or
/// FAIL, with the fix): the model and its context, the chat template's tools, the address and keys,
/// prompt speed against Kibana's timeout, and Kibana- and Elasticsearch-shaped requests replayed
/// against the running service and judged by those clients' rules. Exits non-zero on any FAIL.
struct ElasticDoctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "doctor", abstract: "Check that this Wick service is ready for Elastic, with fixes.")

    @Option(help: "The loaded model to check (default: the most recently loaded).") var model: String?
    @Option(help: "Tokens of a first AI Assistant turn (system prompt and tools) to time against Kibana's timeout.") var firstTurnTokens = 10_000

    /// The AI Assistant's minimum context (Elastic's requirement).
    static let minimumContext = 64_000
    /// Kibana gives up on a streaming call after about this many seconds.
    static let kibanaTimeout = 60.0

    func run() async throws {
        let home = WickHome.fromEnvironment()
        var report = DoctorReport()
        guard let service = ServiceClient.find(home: home), let state = ServiceState.read(home) else {
            report.fail("service", "no Wick service is running", fix: "wick server start")
            report.print()
            throw ExitCode(1)
        }
        let instances = (try await service.get("/api/v1/instances")["instances"] as? [[String: Any]] ?? []).filter { $0["status"] as? String != "loading" }
        let chosen = model.map { name in instances.first { ($0["identifier"] as? String)?.lowercased() == name.lowercased() } } ?? instances.last
        guard let instance = chosen, let id = instance["identifier"] as? String else {
            report.fail("model", model.map { "'\($0)' is not loaded" } ?? "no model is loaded", fix: "wick load MODEL --context-length 65536")
            report.print()
            throw ExitCode(1)
        }
        report.ok("service", "running at \(state.clientBase), model \(id)")

        let context = instance["context_length"] as? Int ?? 0
        if context >= Self.minimumContext {
            report.ok("context", "\(context) tokens (Elastic needs at least \(Self.minimumContext))")
        } else {
            report.fail("context", "\(context) tokens; Elastic's AI Assistant needs at least \(Self.minimumContext)",
                        fix: "wick unload \(id) && wick load \(instance["model"] as? String ?? id) --context-length 65536")
        }
        if instance["tools"] as? Bool == true {
            report.ok("template", "the chat template renders tools (native function calling works)")
        } else {
            report.warn("template", "the chat template does not render tools: only Kibana's simulated function calling will work",
                        fix: "use an instruct model whose template supports tools, or leave enableNativeFunctionCalling off")
        }
        if !id.lowercased().contains("instruct") && !id.lowercased().contains("-it") {
            report.warn("model name", "'\(id)' does not say instruct: Elastic's guide expects an instruct (chat-tuned) model", fix: nil)
        }
        checkAddress(state, home: home, into: &report)
        await checkSpeed(service, model: id, into: &report)
        for replay in ElasticReplays(model: id).all {
            do {
                report.ok(replay.name, try await replay.run(service))
            } catch {
                report.fail(replay.name, "\(error)", fix: nil)
            }
        }
        report.print()
        if report.failed { throw ExitCode(1) }
    }

    private func checkAddress(_ state: ServiceState, home: WickHome, into report: inout DoctorReport) {
        let keys = !APIKeyStore(home: home).entries().isEmpty || state.apiKeyFile != nil
        if AdvertisedURL.isLoopback(state.host) {
            report.warn("address", "listening on \(state.host): only Elastic on this machine can reach it",
                        fix: "for a remote Elastic: wick server start --bind 0.0.0.0 --tls-cert CERT --tls-key KEY, then wick elastic connect")
        } else if !keys {
            report.fail("keys", "listening on \(state.host) without API keys: anyone on the network can use the model",
                        fix: "wick elastic connect issues a key, or restart with --api-key-file FILE")
        } else if state.tls != true {
            report.warn("tls", "listening on \(state.host) over plain HTTP: keys and prompts cross the network in clear",
                        fix: "restart with --tls-cert CERT --tls-key KEY (or put nginx with TLS in front)")
        } else {
            report.ok("address", "listening on \(state.host) over HTTPS with API keys")
        }
    }

    /// Times a prompt no cache holds (random words) and scales it to a first Kibana turn.
    private func checkSpeed(_ service: ServiceClient, model: String, into report: inout DoctorReport) async {
        let words = ["alert", "host", "metric", "latency", "service", "error", "span", "index", "cluster", "node", "shard", "query"]
        let prompt = (0..<1500).map { _ in words.randomElement() ?? "log" }.joined(separator: " ")
        let start = ContinuousClock.now
        do {
            let reply = try await service.post("/v1/chat/completions", ["model": model, "max_tokens": 1, "temperature": 0,
                                                                        "messages": [["role": "user", "content": prompt]]])
            let elapsed = (ContinuousClock.now - start) / .milliseconds(1) / 1000
            let usage = reply["usage"] as? [String: Any] ?? [:]
            let cached = (usage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int ?? 0
            let tokens = (usage["prompt_tokens"] as? Int ?? 0) - cached
            guard tokens > 0, elapsed > 0 else { throw CLIError("no usage in the reply") }
            let speed = Double(tokens) / elapsed, firstTurn = Double(firstTurnTokens) / speed
            let line = String(format: "%.0f prompt tokens/s: a first AI Assistant turn of %d tokens waits about %.0f s", speed, firstTurnTokens, firstTurn)
            if firstTurn <= Self.kibanaTimeout * 0.75 {
                report.ok("speed", line)
            } else {
                report.warn("speed", line + String(format: " (Kibana gives up after about %.0f s)", Self.kibanaTimeout),
                            fix: "in kibana.yml: xpack.actions.responseTimeout: \(Int(firstTurn * 2 / 60) + 1)m (or a smaller model)")
            }
        } catch {
            report.fail("speed", "the timing request failed: \(error)", fix: nil)
        }
    }
}

/// The doctor's lines: printed in order, each OK, WARN or FAIL with its fix.
struct DoctorReport {
    private(set) var lines: [String] = []
    private(set) var failed = false

    mutating func ok(_ check: String, _ detail: String) { lines.append("OK    \(check): \(detail)") }

    mutating func warn(_ check: String, _ detail: String, fix: String?) {
        lines.append("WARN  \(check): \(detail)" + (fix.map { "\n      fix: \($0)" } ?? ""))
    }

    mutating func fail(_ check: String, _ detail: String, fix: String?) {
        failed = true
        lines.append("FAIL  \(check): \(detail)" + (fix.map { "\n      fix: \($0)" } ?? ""))
    }

    func print() { lines.forEach { Swift.print($0) } }
}
