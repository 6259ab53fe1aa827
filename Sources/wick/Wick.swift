import ArgumentParser

@main
struct Wick: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wick",
        abstract: "Run GGUF language models locally and serve them over an OpenAI-compatible API.",
        subcommands: [ServerCommand.self, Get.self, List.self, Load.self, Processes.self, Unload.self, StatusCommand.self, Chat.self, LogCommand.self, ImportCommand.self,
                      Remove.self, Trust.self, Info.self, Tokenize.self, Detokenize.self, Generate.self, Bench.self, GrammarBench.self, ElasticCommand.self]
    )
}
