import ArgumentParser
import ModelStore

struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a downloaded model's files.")

    @Argument(help: "The model's key (or a unique short name).") var key: String

    func run() throws {
        let store = ModelStore(home: WickHome.fromEnvironment())
        let model = try store.resolve(key)
        try store.remove(model)
        print("Removed \(model.key) (\(Terminal.bytes(model.sizeBytes)))")
    }
}
