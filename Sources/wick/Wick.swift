import ArgumentParser

@main
struct Wick: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wick",
        abstract: "Run GGUF language models locally and serve them over an OpenAI-compatible API.",
        subcommands: [Info.self, Tokenize.self, Detokenize.self, Generate.self, Bench.self]
    )
}
