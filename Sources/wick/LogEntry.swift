import Foundation

/// One entry of swift-log's stream format: `2026-12-01T04:08:34+0000 info wick.model: message`.
struct LogEntry {
    let time: String
    let level: String
    let label: String
    let message: String

    init?(line: String) {
        let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].count >= 19, parts[0].dropFirst(4).first == "-", parts[2].hasSuffix(":") else { return nil }
        time = String(parts[0])
        level = String(parts[1])
        label = String(parts[2].dropLast())
        message = String(parts[3])
    }

    /// An entry and its continuation lines as one JSON object (lines that are not entries stand as messages).
    static func json(_ lines: [String]) -> String {
        let head = LogEntry(line: lines[0])
        var object: [String: String] = ["message": ([head?.message ?? lines[0]] + lines.dropFirst()).joined(separator: "\n")]
        if let head {
            object["time"] = head.time
            object["level"] = head.level
            object["label"] = head.label
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
