#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GGUF
import ModelStore

/// What the CLI prints and asks on a terminal: progress bars (plain lines when not a terminal) and questions.
enum Terminal {
    static var isInteractive: Bool { isatty(0) == 1 }
    static var stderrIsTTY: Bool { isatty(2) == 1 }

    static func err(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }

    /// Asks a question on stderr and reads a line; nil when stdin is not a terminal.
    static func ask(_ question: String) -> String? {
        guard isInteractive else { return nil }
        FileHandle.standardError.write(Data(question.utf8))
        return readLine()?.trimmingCharacters(in: .whitespaces)
    }

    static func bytes(_ n: Int64) -> String { ModelFacts.humanBytes(Int(n)) }

    /// A download's progress, redrawn in place on a terminal, a line per 10% otherwise.
    final class ProgressPrinter: @unchecked Sendable {
        private let lock = NSLock()
        private var lastDecile = -1

        func show(_ p: DownloadProgress) {
            lock.lock()
            defer { lock.unlock() }
            let fraction = p.bytesTotal > 0 ? Double(p.bytesDone) / Double(p.bytesTotal) : 1
            let eta = p.secondsLeft.map { s in s < 3600 * 24 ? String(format: "%d:%02d", Int(s) / 60, Int(s) % 60) : "--" } ?? "--"
            let text = "\(p.file)  \(String(format: "%5.1f", fraction * 100))%  \(bytes(p.bytesDone)) / \(bytes(p.bytesTotal))  \(bytes(Int64(p.bytesPerSecond)))/s  ETA \(eta)"
            if stderrIsTTY {
                let width = 24, filled = Int(fraction * Double(width))
                FileHandle.standardError.write(Data("\r[\(String(repeating: "#", count: filled))\(String(repeating: "-", count: width - filled))] \(text)\u{1B}[K".utf8))
                if p.bytesDone >= p.bytesTotal { FileHandle.standardError.write(Data("\n".utf8)) }
            } else {
                let decile = Int(fraction * 10)
                if decile != lastDecile {
                    lastDecile = decile
                    err(text)
                }
            }
        }
    }
}
