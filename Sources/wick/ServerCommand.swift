#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Models
import ModelStore
import Server
import Templates

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Start, stop and inspect the background service.",
        subcommands: [Start.self, Stop.self, Status.self]
    )

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start the service in the background (or, with --foreground, in this process).")

        @Option(help: "Port to listen on.") var port = 1234
        @Option(name: [.customLong("bind"), .customLong("host")], help: "Address to bind (0.0.0.0 serves the local network).") var bind = "127.0.0.1"
        @Option(help: "Load this model (store name or GGUF path) as the service starts (repeatable).") var model: [String] = []
        @Option(help: "Context length of the --model at the same position (one value applies to all).") var contextLength: [Int] = []
        @Option(help: "Require a bearer key on /v1 and /api routes: one key per line of this file (WICK_API_KEY adds one).") var apiKeyFile: String?
        @Flag(help: "Answer CORS requests from browsers.") var cors = false
        @Flag(help: "Stay in the foreground (for systemd and containers).") var foreground = false
        @Option(help: "Serve HTTPS with this PEM certificate chain (with --tls-key; SIGHUP reloads both).") var tlsCert: String?
        @Option(help: "The PEM private key of --tls-cert.") var tlsKey: String?
        @Option(help: "Worker threads for inference.") var threads = ProcessInfo.processInfo.activeProcessorCount
        @Option(help: "Largest request body in bytes.") var maxBodyBytes = 32 << 20
        @Option(help: "Largest request line and headers in bytes (larger: 431).") var maxHeaderBytes = 64 << 10
        @Option(help: "Seconds a request's headers, then its body, may take to arrive (slow clients are closed); also how long an idle connection stays open.")
        var readTimeout = 30
        @Option(help: "Open connections at once; one more gets 503 and is closed.") var maxConnections = 512
        @Option(help: "Seconds running requests get to finish after SIGTERM (new ones get 503 meanwhile).") var drainTimeout = 30
        @Option(help: "API requests per minute per key (one allowance for all when no key is required); over it, 429. 0: no limit.")
        var rateLimit = 0
        @Option(help: "Requests that may wait for inference (the running ones included) before others get 503.") var maxQueued = 16
        @Option(help: "Sequences each model generates at once (continuous batching), unless a load says otherwise.") var parallel = 4
        @Option(help: "How keys and values are stored unless a load says otherwise: f16, or q8_0 (about half the memory).") var kvCacheType: KVCacheType = .f16
        @Option(help: "The log's format: text, or json (one object per line, for log shippers).") var logFormat: LogFormat = .text
        @Option(help: "Loop iterations a chat template may run to render one prompt (beyond: 400 template_error).")
        var templateMaxLoops = Template.Limits().loopIterations
        @Option(help: "Bytes of prompt text a chat template may write for one request (beyond: 400 template_error).")
        var templateMaxOutputBytes = Template.Limits().outputBytes

        func validate() throws {
            guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
            guard maxQueued >= 1 else { throw ValidationError("--max-queued must be at least 1") }
            guard maxBodyBytes >= 1 else { throw ValidationError("--max-body-bytes must be at least 1") }
            guard (1024...(16 << 20)).contains(maxHeaderBytes) else { throw ValidationError("--max-header-bytes must be between 1024 and 16777216") }
            guard (1...86400).contains(readTimeout) else { throw ValidationError("--read-timeout must be between 1 and 86400 seconds") }
            guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
            guard (0...3600).contains(drainTimeout) else { throw ValidationError("--drain-timeout must be between 0 and 3600 seconds") }
            guard rateLimit >= 0 else { throw ValidationError("--rate-limit must be 0 (no limit) or more") }
            guard templateMaxLoops >= 1 else { throw ValidationError("--template-max-loops must be at least 1") }
            guard templateMaxOutputBytes >= 1 else { throw ValidationError("--template-max-output-bytes must be at least 1") }
            guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
            guard (1...LoadPlanner.maxParallel).contains(parallel) else { throw ValidationError("--parallel must be between 1 and \(LoadPlanner.maxParallel)") }
            guard contextLength.count <= 1 || contextLength.count == model.count else {
                throw ValidationError("give one --context-length for all models, or one per --model")
            }
            if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        }

        func run() async throws {
            let home = WickHome.fromEnvironment()
            if let running = ServiceState.read(home), await ServiceLauncher.answers(running) {
                throw ServiceClient.Failure(description: "a Wick service is already running at \(running.clientBase) (pid \(running.pid)); `wick server stop` stops it")
            }
            let keys = try Self.apiKeys(file: apiKeyFile)
            let certificates = try tlsCertificates()
            if port != 0 { try PortCheck.ensureFree(host: bind, port: port) }
            guard foreground else {
                let state = try await ServiceLauncher.launch(arguments: CommandLine.arguments.dropFirst() + ["--foreground"], home: home)
                print("Wick service running at \(state.clientBase) (pid \(state.pid)); OpenAI API at \(state.clientBase)/v1")
                return
            }
            try await serve(home: home, keys: keys, certificates: certificates)
        }

        /// The certificate and key, checked before the service starts (a background start reports a
        /// bad file at once).
        private func tlsCertificates() throws -> TLSCertificates? {
            guard let tlsCert, let tlsKey else { return nil }
            let absolute = { (path: String) in URL(fileURLWithPath: path).standardizedFileURL.path }
            do {
                return try TLSCertificates(certificateFile: absolute(tlsCert), keyFile: absolute(tlsKey))
            } catch {
                throw CLIError("cannot use the TLS certificate \(tlsCert) with the key \(tlsKey): \(error)")
            }
        }

        private var templateLimits: Template.Limits {
            var limits = Template.Limits()
            limits.loopIterations = templateMaxLoops
            limits.outputBytes = templateMaxOutputBytes
            return limits
        }

        /// Whether this process writes its output into `file` (a background service does; one in a terminal does not).
        private static func standardErrorIsFile(_ file: URL) -> Bool {
            var output = stat(), log = stat()
            guard fstat(2, &output) == 0, stat(file.path, &log) == 0 else { return false }
            return output.st_dev == log.st_dev && output.st_ino == log.st_ino
        }

        /// The keys of the key file (when one is given) and `WICK_API_KEY`.
        private static func apiKeys(file apiKeyFile: String?) throws -> [String] {
            var keys: [String] = []
            if let apiKeyFile {
                guard let fileKeys = APIKeyFile.keys(at: apiKeyFile) else { throw CLIError("cannot read the API key file \(apiKeyFile)") }
                keys = fileKeys
                guard !keys.isEmpty else { throw CLIError("the API key file \(apiKeyFile) holds no key") }
            }
            if let env = ProcessInfo.processInfo.environment["WICK_API_KEY"], !env.isEmpty { keys.append(env) }
            return keys
        }

        private func serve(home: WickHome, keys: [String], certificates: TLSCertificates?) async throws {
            if logFormat == .json { LoggingSystem.bootstrap { JSONLogHandler(label: $0) } }
            let logger = Logger(label: "wick.server")
            try home.prepare()
            let settings = try Settings.load(from: home)
            let store = ModelStore(home: home)
            let host = ModelHost(queue: InferenceQueue(threads: threads, maxQueued: maxQueued), store: store, settings: settings,
                                 defaultParallel: parallel, defaultKVCacheType: kvCacheType, templateLimits: templateLimits)
            await host.watchFileChanges()
            for (i, name) in model.enumerated() {
                let context = contextLength.isEmpty ? nil : contextLength[contextLength.count == 1 ? 0 : i]
                let instance = try await host.load(.init(model: name, contextLength: context))
                logger.info("loaded \(instance.identifier) (context \(instance.model.contextLength))")
            }
            if bind == "0.0.0.0" || bind == "::" {
                let open = keys.isEmpty && APIKeyStore(home: home).entries().isEmpty
                logger.warning("serving on \(bind): every machine on the network can reach this server\(open ? ", and no API key is set" : "")")
            }
            var config = WickServer.Configuration()
            config.host = bind
            config.port = port
            config.apiKeys = keys
            config.issuedKeys = home.apiKeys
            let token = (0..<4).map { _ in String(UInt64.random(in: 0...UInt64.max), radix: 16) }.joined()
            config.localToken = token
            config.tls = certificates
            config.cors = cors
            config.maxBodyBytes = maxBodyBytes
            config.maxHeaderBytes = maxHeaderBytes
            config.readTimeoutSeconds = readTimeout
            config.maxConnections = maxConnections
            config.rateLimitPerMinute = rateLimit
            config.drainSeconds = drainTimeout
            config.metrics = ServerMetrics.bootstrap()
            if Self.standardErrorIsFile(home.serviceLog) { config.logFile = home.serviceLog }
            let downloads = DownloadJobs(fetcher: ModelFetcher(store: store, hub: HubClient()), settings: settings)
            let server = WickServer(host: host, configuration: config, downloads: downloads)
            var readKeys: (@Sendable () throws -> [String])?
            if let apiKeyFile { readKeys = { try Self.apiKeys(file: apiKeyFile) } }
            let reloader = HangupReloader(certificates: certificates, keys: server.keys, readKeys: readKeys)
            let pid = getpid()
            let keyFile = apiKeyFile.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            let sweeper = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    await host.sweep()
                }
            }
            defer {
                reloader.cancel()
                sweeper.cancel()
                ServiceState.remove(home, pid: pid)
            }
            try await server.run { host, boundPort in
                try? ServiceState(pid: pid, host: host, port: boundPort, apiKeyFile: keyFile, token: token, tls: certificates != nil).write(home)
                logger.info("serving on \(certificates == nil ? "http" : "https")://\(host):\(boundPort)/v1")
            }
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the background service (running streams finish first).")

        @Option(help: "Seconds to wait for running requests to finish.") var timeout = 120

        func run() async throws {
            let home = WickHome.fromEnvironment()
            guard let state = ServiceState.read(home) else {
                print("No Wick service is running.")
                return
            }
            kill(state.pid, SIGTERM)
            let deadline = ContinuousClock.now + .seconds(timeout)
            while kill(state.pid, 0) == 0 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            if kill(state.pid, 0) == 0 {
                kill(state.pid, SIGKILL)
                ServiceState.remove(home, pid: state.pid)
                print("Wick service (pid \(state.pid)) did not stop within \(timeout) s and was killed.")
            } else {
                print("Wick service stopped.")
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Whether the service runs, where, and what it has loaded.")

        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var service: ServiceOptions

        func run() async throws {
            let status = await ServiceStatus.read(home: WickHome.fromEnvironment(), host: service.host, port: service.port)
            if json { print(try status.jsonText()) } else { print(status.line) }
        }
    }
}

/// `wick server start --log-format`.
enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}
