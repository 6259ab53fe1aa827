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
