import ArgumentParser
import ModelStore

/// `--host/--port` of a service on another machine; without them, the local service `$WICK_HOME` records.
struct ServiceOptions: ParsableArguments {
    @Option(help: "Address of a service on another machine (default: the local service).") var host: String?
    @Option(help: "Port of a service on another machine (default 1234 with --host).") var port: Int?

    var isRemote: Bool { host != nil || port != nil }

    func client(_ home: WickHome = .fromEnvironment()) throws -> ServiceClient {
        try ServiceClient.require(home: home, host: host, port: port)
    }
}
