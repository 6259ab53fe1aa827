import ArgumentParser
import Foundation
import ModelStore

struct LogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log", abstract: "The service's log.", subcommands: [Stream.self])

    struct Stream: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Follow the service's log: loads, each request's templated prompt, timings (Ctrl-C stops).")

        @Flag(help: "One JSON object per entry: time, level, label, message.") var json = false

        /// Written at once (not buffered), so a reader of a pipe sees each entry as it comes.
        private func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

        func run() async throws {
            let path = WickHome.fromEnvironment().serviceLog.path
            if !FileManager.default.fileExists(atPath: path) {
                try WickHome.fromEnvironment().prepare()
                FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
            }
            guard let handle = FileHandle(forReadingAtPath: path) else { throw CLIError("cannot read \(path)") }
            var offset = try handle.seekToEnd()
            var entry: [String] = []
            while true {
                let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value ?? 0
                if size < offset { offset = 0 }  // the log was truncated or replaced
                try handle.seek(toOffset: offset)
                let data = try handle.readToEnd() ?? Data()
                // Only whole lines; a partial last line waits for its end.
                if let lastNewline = data.lastIndex(of: 0x0A) {
                    let chunk = data[data.startIndex...lastNewline]
                    offset += UInt64(chunk.count)
                    for line in String(decoding: chunk, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                        guard json else { emit(String(line)); continue }
                        // A line that starts an entry (a timestamp) ends the previous one; others continue it.
                        if LogEntry(line: String(line)) != nil, !entry.isEmpty { emit(LogEntry.json(entry)); entry = [] }
                        entry.append(String(line))
                    }
                    if json, !entry.isEmpty { emit(LogEntry.json(entry)); entry = [] }
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }
}

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
