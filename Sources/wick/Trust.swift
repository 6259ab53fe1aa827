import ArgumentParser
import ModelStore

struct Trust: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Publishers whose models download without asking.", subcommands: [Add.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Trust a publisher (hub owner name).")
        @Argument var owner: String

        func run() throws {
            let home = WickHome.fromEnvironment()
            var settings = try Settings.load(from: home)
            if !settings.trustedPublishers.contains(owner) { settings.trustedPublishers.append(owner) }
            try settings.save(to: home)
            print("Trusted \(owner)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List trusted publishers.")

        func run() throws {
            let settings = try Settings.load(from: WickHome.fromEnvironment())
            for owner in Publishers.builtIn.sorted() { print("\(owner) (built in)") }
            for owner in settings.trustedPublishers { print(owner) }
        }
    }
}
