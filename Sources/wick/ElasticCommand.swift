import ArgumentParser

/// `wick elastic …`: connecting Elastic to this service.
struct ElasticCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "elastic", abstract: "Connect Elastic (Elasticsearch inference endpoints) to this Wick service.",
                                                    subcommands: [ElasticConnect.self])
}
