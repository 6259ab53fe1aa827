import ArgumentParser
import Foundation
import ModelStore

struct Chat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with a model of the running service (one-shot with -p or from piped stdin).",
        discussion: "In the conversation: /exit, /clear (forget the history), /system TEXT, /stats (the last reply's timings).")

    @Argument(help: "A loaded or downloaded model (default: the first loaded one).") var model: String?
    @Option(name: .shortAndLong, help: "System prompt.") var system: String?
    @Option(name: .shortAndLong, help: "Send this one message, print the answer and exit.") var prompt: String?
    @Option(help: "Sampling temperature.") var temperature: Double?
    @Option(help: "Largest reply in tokens.") var maxTokens: Int?
    @OptionGroup var service: ServiceOptions

    func run() async throws {
        let client = try service.client()
        var conversation = Conversation(system: system)
        if let prompt {
            try await reply(to: prompt, in: &conversation, client: client)
            return
        }
        if !Terminal.isInteractive {
            let text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw CLIError("nothing to send: stdin was empty") }
            try await reply(to: text, in: &conversation, client: client)
            return
        }
        Terminal.err("Chatting with \(model ?? "the loaded model"). /exit ends, /clear forgets, /system TEXT sets the system prompt, /stats shows timings.")
        var stats = ""
        while true {
            FileHandle.standardError.write(Data("› ".utf8))
            guard let line = readLine() else { break }
            let text = line.trimmingCharacters(in: .whitespaces)
            switch text {
            case "": continue
            case "/exit", "/quit": return
            case "/clear": conversation.clear(); Terminal.err("(history cleared)"); continue
            case "/stats": Terminal.err(stats.isEmpty ? "(no reply yet)" : stats); continue
            default:
                if text.hasPrefix("/system") {
                    conversation.system = String(text.dropFirst(7)).trimmingCharacters(in: .whitespaces)
                    Terminal.err("(system prompt set)")
                    continue
                }
            }
            do {
                stats = try await reply(to: line, in: &conversation, client: client)
            } catch let error as ServiceClient.Failure where error.answered {
                Terminal.err("Error: \(error)")
            }
        }
    }

    /// Streams the answer to `text` and adds both turns to the conversation; returns a timing line.
    @discardableResult
    private func reply(to text: String, in conversation: inout Conversation, client: ServiceClient) async throws -> String {
        conversation.add(role: "user", text)
        var body: [String: Any] = ["messages": conversation.messages, "stream": true, "stream_options": ["include_usage": true]]
        if let model { body["model"] = model }
        if let temperature { body["temperature"] = temperature }
        if let maxTokens { body["max_tokens"] = maxTokens }
        var answer = ""
        var usage: [String: Any] = [:]
        var firstToken: ContinuousClock.Instant?
        let started = ContinuousClock.now
        try await client.stream("/v1/chat/completions", body) { event in
            if let u = event["usage"] as? [String: Any] { usage = u }
            let delta = ((event["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any]) ?? [:]
            guard let piece = delta["content"] as? String, !piece.isEmpty else { return }
            if firstToken == nil { firstToken = .now }
            answer += piece
            FileHandle.standardOutput.write(Data(piece.utf8))
        }
        FileHandle.standardOutput.write(Data("\n".utf8))
        conversation.add(role: "assistant", answer)
        let total = ContinuousClock.now - started
        let tokens = usage["completion_tokens"] as? Int ?? 0
        let ttft = firstToken.map { $0 - started } ?? total
        let genSeconds = Self.seconds(total - ttft)
        return "prompt \(usage["prompt_tokens"] as? Int ?? 0) tokens, first token after \(String(format: "%.2f", Self.seconds(ttft))) s, \(tokens) tokens at \(String(format: "%.1f", genSeconds > 0 ? Double(tokens) / genSeconds : 0)) tokens/s"
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
}
