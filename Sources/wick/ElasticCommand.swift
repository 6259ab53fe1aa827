import ArgumentParser

/// `wick elastic …`: connecting Elastic to this service.
struct ElasticCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "elastic", abstract: "Connect Elastic (Elasticsearch inference endpoints, Kibana's connector) to this Wick service, and check it is ready.",
                                                    subcommands: [ElasticConnect.self, ElasticDoctor.self])
}
