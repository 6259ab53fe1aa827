import ArgumentParser
import ModelStore

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import", abstract: "Put a GGUF file from disk into the store (moved, unless told otherwise).")

    @Argument(help: "The GGUF file (the first part, for a split model).") var file: String
    @Option(help: "Store it as OWNER/REPO (default: local/NAME).") var userRepo: String?
    @Flag(help: "How to place it.") var mode: ModelImporter.Mode = .move
    @Flag(help: "Say what would happen without doing it.") var dryRun = false

    func run() throws {
        let importer = ModelImporter(store: ModelStore(home: WickHome.fromEnvironment()))
        let plan = try importer.plan(file: file, userRepo: userRepo, mode: mode)
        for (s, d) in zip(plan.sources, plan.destinations) { print("\(dryRun ? "would \(mode.rawValue)" : mode.rawValue) \(s.path) -> \(d.path)") }
        if !dryRun { try importer.perform(plan) }
    }
}

extension ModelImporter.Mode: EnumerableFlag {
    public static func name(for value: Self) -> NameSpecification { .customLong(value == .move ? "move" : value.rawValue) }
}
