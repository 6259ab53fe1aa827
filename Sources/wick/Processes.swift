import ArgumentParser
import Foundation
import ModelStore

struct Processes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "List the models loaded in the service.")

    @Flag(help: "Print JSON: an array of instances.") var json = false
    @OptionGroup var service: ServiceOptions

    func run() async throws {
        let client = try service.client()
        let rows = try await client.get("/api/v1/instances")["instances"] as? [[String: Any]] ?? []
        if json {
            print(String(decoding: try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
            return
        }
        guard !rows.isEmpty else {
            print("No models are loaded. `wick load KEY` loads one.")
            return
        }
        func text(_ r: [String: Any], _ key: String) -> String {
            if let s = r[key] as? String { return s }
            if let i = r[key] as? Int { return key == "size_bytes" ? Terminal.bytes(Int64(i)) : key == "ttl_seconds" ? "\(i) s" : String(i) }
            return "-"
        }
        let keys = ["identifier", "model", "status", "size_bytes", "context_length", "ttl_seconds", "queued"]
        Table.print([["IDENTIFIER", "MODEL", "STATUS", "SIZE", "CONTEXT", "TTL", "QUEUED"]] + rows.map { r in keys.map { text(r, $0) } })
    }
}
