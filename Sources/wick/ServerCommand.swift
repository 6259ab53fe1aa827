import ArgumentParser
import Foundation
import Server

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run the OpenAI-compatible server.",
        subcommands: [Start.self]
    )

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Load a model and serve it (in the foreground).")

        @Option(help: "Path to a GGUF file.") var model: String
        @Option(help: "Port to listen on.") var port = 1234
        @Option(help: "Address to bind (0.0.0.0 serves the local network).") var host = "127.0.0.1"
        @Option(help: "Context length to load the model with (default: the trained length, at most 8192).") var contextLength: Int?
        @Option(name: .customLong("api-key"), help: "Require this bearer key on /v1 routes (repeatable).") var apiKeys: [String] = []
        @Flag(help: "Answer CORS requests from browsers.") var cors = false
        @Flag(help: "Stay in the foreground (the only mode for now).") var foreground = false
        @Option(help: "Worker threads for inference.") var threads = ProcessInfo.processInfo.activeProcessorCount
        @Option(help: "Largest request body in bytes.") var maxBodyBytes = 32 << 20
        @Option(help: "Requests that may wait for the model (the running one included) before others get 503.") var maxQueued = 16

        func run() async throws {
            guard (1...65535).contains(port) else { throw ValidationError("--port must be between 1 and 65535") }
            guard maxQueued >= 1 else { throw ValidationError("--max-queued must be at least 1") }
            let loaded = try ChatModel(path: model, contextLength: contextLength, threads: threads, maxQueued: maxQueued)
            if host == "0.0.0.0" || host == "::" {
                FileHandle.standardError.write(Data("warning: serving on \(host): every machine on the network can reach this server\(apiKeys.isEmpty ? ", and no --api-key is set" : "")\n".utf8))
            }
            var config = WickServer.Configuration()
            config.host = host
            config.port = port
            config.apiKeys = apiKeys
            config.cors = cors
            config.maxBodyBytes = maxBodyBytes
            print("wick: serving \(loaded.id) (context \(loaded.contextLength)) on http://\(host):\(port)/v1")
            try await WickServer(models: [loaded], configuration: config).run()
        }
    }
}
