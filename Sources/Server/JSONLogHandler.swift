import Foundation
import Logging
import Synchronization
import Templates

/// Log lines as JSON objects, one per line (`wick server start --log-format json`), for log
/// shippers: `time` (ISO 8601 in UTC, milliseconds), `level`, `logger` (its label), `message`, and the
/// metadata as string fields (a request's `request_id`, the `X-Request-Id` it was answered with).
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    let write: @Sendable (String) -> Void

    /// Writes to standard error unless given another sink (tests).
    public init(label: String, write: (@Sendable (String) -> Void)? = nil) {
        self.label = label
        self.write = write ?? Self.standardError
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
                    function: String, line: UInt) {
        let own: Set = ["time", "level", "logger", "message"]
        var fields: [(String, Value)] = [("time", .string(Date().formatted(Self.time))), ("level", .string(level.rawValue)),
                                         ("logger", .string(label)), ("message", .string(message.description))]
        let merged = self.metadata.merging(metadata ?? [:]) { $1 }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) where !own.contains(key) {
            fields.append((key, .string(value.description)))
        }
        write(Value.object(Value.Object(fields)).compactJSON)
    }

    private static let time = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    /// One line per write, whole: threads log at once.
    private static let standardErrorLock = Mutex(())
    private static let standardError: @Sendable (String) -> Void = { line in
        standardErrorLock.withLock { _ in FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }
}
