import ArgumentParser

@main
struct Wick: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wick",
        abstract: "Run GGUF language models locally and serve them over an OpenAI-compatible API.",
        subcommands: [Info.self, Tokenize.self, Detokenize.self, Generate.self, Bench.self, ServerCommand.self]
    )
}
