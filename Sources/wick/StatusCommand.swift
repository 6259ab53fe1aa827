import ArgumentParser
import ModelStore

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "The service and its loaded models.")

    @OptionGroup var service: ServiceOptions

    func run() async throws {
        let status = await ServiceStatus.read(home: WickHome.fromEnvironment(), host: service.host, port: service.port)
        print(status.line)
        if status.running {
            var ps = Processes()
            ps.service = service
            try await ps.run()
        }
    }
}
