import Foundation
import ModelStore

/// What `wick server status` and `wick status` report.
struct ServiceStatus {
    var running = false
    var base: String?
    var pid: Int?
    var loaded: [String] = []
    var queued = 0

    static func read(home: WickHome, host: String?, port: Int?) async -> ServiceStatus {
        guard let client = ServiceClient.find(home: home, host: host, port: port) else { return ServiceStatus() }
        guard let json = try? await client.get("/api/v1/status") else { return ServiceStatus(base: client.base) }
        return ServiceStatus(running: true, base: client.base, pid: json["pid"] as? Int, loaded: json["loaded"] as? [String] ?? [],
                             queued: json["queued"] as? Int ?? 0)
    }

    var port: Int? { base.flatMap { URL(string: $0)?.port } }

    func jsonText() throws -> String {
        var object: [String: Any] = ["running": running]
        if running {
            object["url"] = base
            object["host"] = base.flatMap { URL(string: $0)?.host }
            object["port"] = port
            object["pid"] = pid
            object["loaded"] = loaded
            object["queued"] = queued
        }
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }

    var line: String {
        guard running, let base else { return "The Wick service is not running (`wick server start` starts it)." }
        return "The Wick service is running at \(base) (pid \(pid.map(String.init) ?? "?")); \(loaded.isEmpty ? "no models loaded" : "loaded: " + loaded.joined(separator: ", "))."
    }
}
