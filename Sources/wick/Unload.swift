import ArgumentParser

struct Unload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Unload a model instance (or all) and free its memory.")

    @Argument(help: "The instance identifier (see `wick ps`).") var identifier: String?
    @Flag(help: "Unload every instance.") var all = false
    @OptionGroup var service: ServiceOptions

    func validate() throws {
        guard (identifier != nil) != all else { throw ValidationError("name one instance, or pass --all") }
    }

    func run() async throws {
        let reply = try await service.client().post("/api/v1/models/unload", all ? ["all": true] : ["instance_id": identifier!])
        let ids = reply["unloaded"] as? [String] ?? []
        print(ids.isEmpty ? "No models were loaded." : "Unloaded \(ids.joined(separator: ", "))")
    }
}
