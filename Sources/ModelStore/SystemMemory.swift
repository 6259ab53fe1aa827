import Foundation

/// The machine's memory as `/proc/meminfo` states it.
public struct SystemMemory: Sendable {
    public let totalBytes: Int64
    public let availableBytes: Int64

    public static func current() -> SystemMemory {
        let text = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        return SystemMemory(meminfo: text)
    }

    init(meminfo text: String) {
        var values: [String: Int64] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == ":" || $0 == " " })
            if fields.count >= 2, let kib = Int64(fields[1]) { values[String(fields[0])] = kib * 1024 }
        }
        totalBytes = values["MemTotal"] ?? 0
        availableBytes = values["MemAvailable"] ?? values["MemFree"] ?? 0
    }
}
