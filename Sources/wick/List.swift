import ArgumentParser
import Foundation
import ModelStore
import Server
import Templates

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List downloaded models (loaded ones marked when the service runs).")

    @Flag(help: "Print JSON: an array of models.") var json = false

    func run() async throws {
        let home = WickHome.fromEnvironment()
        let store = ModelStore(home: home)
        var loaded: [String: [(id: String, contextLength: Int)]] = [:]
        if let client = ServiceClient.find(home: home), let reply = try? await client.get("/api/v1/instances") {
            for row in reply["instances"] as? [[String: Any]] ?? [] {
                guard let model = row["model"] as? String, let id = row["identifier"] as? String else { continue }
                loaded[model, default: []].append((id, row["context_length"] as? Int ?? 0))
            }
        }
        let entries = store.models().map { ModelListing.entry($0, loaded: loaded[$0.key] ?? []) }
        if json {
            print(Value.array(entries).compactJSON)
            return
        }
        guard !entries.isEmpty else {
            print("No models downloaded. `wick get OWNER/REPO` downloads one; `wick import FILE` adds a file you have.")
            return
        }
        func field(_ v: Value, _ key: String) -> String {
            guard case .object(let o) = v, let f = o[key] else { return "" }
            switch f {
            case .string(let s): return s
            case .int(let i): return String(i)
            case .bool(let b): return b ? "✓" : ""
            default: return "-"
            }
        }
        let rows = [["KEY", "PARAMS", "ARCH", "QUANT", "SIZE", "CONTEXT", "LOADED"]] + entries.map { e in
            [field(e, "key"), field(e, "params"), field(e, "architecture"), field(e, "quantization"),
             Terminal.bytes(Int64(field(e, "size_bytes")) ?? 0), field(e, "max_context_length"), field(e, "loaded")]
        }
        Table.print(rows)
        let total = store.models().reduce(Int64(0)) { $0 + $1.sizeBytes }
        print("\n\(entries.count) model\(entries.count == 1 ? "" : "s"), \(Terminal.bytes(total)) on disk in \(store.home.models.path)")
    }
}
