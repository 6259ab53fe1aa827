import ArgumentParser
import Foundation
import ModelStore

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download a model from the hub into the store (resumes an interrupted download, verifies SHA-256).",
        discussion: "The hub is HF_ENDPOINT (default https://huggingface.co); HF_TOKEN is sent when set.")

    @Argument(help: "OWNER/REPO[@QUANT], or a hub address of a repository or a file.") var model: String
    @Flag(name: [.short, .long], help: "Take the default choices without asking (quantization, unknown publisher).") var yes = false

    func run() async throws {
        let home = WickHome.fromEnvironment()
        let settings = try Settings.load(from: home)
        let spec = try ModelSpec(parsing: model)
        if !Publishers.isTrusted(spec.owner, settings: settings) {
            let why = "'\(spec.owner)' is not one of the publishers Wick trusts (the model makers and well-known quantizers); anyone can publish a file under any name."
            if !yes {
                guard let answer = Terminal.ask("\(why)\nDownload from \(spec.owner) anyway? [y/N] ") else {
                    throw CLIError("\(why) Pass --yes to download anyway, or `wick trust add \(spec.owner)`.")
                }
                guard answer.lowercased().hasPrefix("y") else { throw ExitCode(1) }
            } else {
                Terminal.err("note: \(why)")
            }
        }
        let fetcher = ModelFetcher(store: ModelStore(home: home), hub: HubClient())
        let models = try await fetcher.available(spec)
        let chosen = try choose(spec, models)
        let printer = Terminal.ProgressPrinter()
        Terminal.err("downloading \(spec.owner)/\(spec.repo) \(chosen.label) (\(Terminal.bytes(chosen.sizeBytes)), \(chosen.files.count) file\(chosen.files.count == 1 ? "" : "s"))")
        let stored = try await fetcher.fetch(chosen, of: spec) { printer.show($0) }
        print("Downloaded \(stored.key) (\(Terminal.bytes(stored.sizeBytes))) to \(stored.path.deletingLastPathComponent().path)")
    }

    /// The `@quant` asked for, the only model of the repo, or the user's pick (default: what fits in memory).
    private func choose(_ spec: ModelSpec, _ models: [RepoModel]) throws -> RepoModel {
        if let choice = spec.choice {
            guard let m = RepoModel.pick(choice, in: models) else {
                throw CLIError("\(spec.owner)/\(spec.repo) has no '\(choice)'; it offers \(models.map(\.label).joined(separator: ", "))")
            }
            return m
        }
        if models.count == 1 { return models[0] }
        let memory = SystemMemory.current().totalBytes
        let fallback = RepoModel.defaultChoice(in: models, memoryBytes: memory) ?? models[0]
        if yes { return fallback }
        let menu = models.enumerated().map { i, m in
            "  \(i + 1). \(m.label.padding(toLength: 10, withPad: " ", startingAt: 0)) \(Terminal.bytes(m.sizeBytes))\(m == fallback ? "  (default: fits in \(Terminal.bytes(memory)) of memory)" : "")"
        }.joined(separator: "\n")
        guard let answer = Terminal.ask("\(spec.owner)/\(spec.repo) offers:\n\(menu)\nWhich one? [\((models.firstIndex(of: fallback) ?? 0) + 1)] ") else {
            throw CLIError("\(spec.owner)/\(spec.repo) offers several quantizations (\(models.map(\.label).joined(separator: ", "))); name one as \(spec.owner)/\(spec.repo)@QUANT, or pass --yes for \(fallback.label)")
        }
        if answer.isEmpty { return fallback }
        guard let n = Int(answer), models.indices.contains(n - 1) else { throw CLIError("'\(answer)' is not one of 1 to \(models.count)") }
        return models[n - 1]
    }
}
