import Foundation
import Hummingbird
import Templates

/// The service's log for the web interface's Logs screen: `GET /api/v1/logs?after=OFFSET` answers
/// `{offset, text}`, the whole lines written after byte `OFFSET` (at most 1 MiB of them) and the
/// offset to ask from next. Without `after`, or when the log was truncated or replaced since
/// (`after` beyond its end), it starts at a line within the last 64 KiB. There is a log to serve when
/// this process's output goes to the log file (a background service), not when it runs in a terminal.
/// The log holds the requests' prompts, so it sits behind the API key like the rest of `/api`.
struct ServiceLogAPI: Sendable {
    let file: URL?

    struct Chunk: Equatable {
        /// Where the next read starts.
        let offset: UInt64
        let text: String
    }

    static let tailBytes: UInt64 = 64 << 10
    static let maxBytes: UInt64 = 1 << 20

    func register(on router: Router<WickRequestContext>) {
        let file = self.file
        router.get("api/v1/logs") { request, _ in
            guard let file else {
                throw APIError.notFound("This service writes its log to its terminal (it runs in the foreground), not to a file to show here.",
                                        code: "no_log_file")
            }
            var after: UInt64?
            if let given = request.uri.queryParameters.get("after") {
                guard let value = UInt64(given) else { throw APIError.invalid("'after' must be a byte offset (a whole number ≥ 0).", param: "after") }
                after = value
            }
            let chunk: Chunk
            do { chunk = try Self.read(file, after: after) } catch {
                throw APIError(status: 500, message: "The service log \(file.path) cannot be read.", type: "server_error", code: "log_unreadable")
            }
            return WickServer.json(Responses.object([("offset", .int(Int(clamping: chunk.offset))), ("text", .string(chunk.text))]))
        }
    }

    static func read(_ file: URL, after: UInt64?) throws -> Chunk {
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        var start: UInt64
        var skipPartialLine = false
        if let after, after <= size {
            start = after
        } else {
            // From the byte before the tail, so that a tail beginning on a line's start keeps that line.
            start = size > tailBytes ? size - tailBytes - 1 : 0
            skipPartialLine = start > 0
        }
        try handle.seek(toOffset: start)
        var bytes = try handle.read(upToCount: Int(min(size - start, maxBytes))) ?? Data()
        if skipPartialLine {
            // Begin at the tail's first whole line.
            let next = bytes.firstIndex(of: 0x0A).map { $0 + 1 } ?? bytes.endIndex
            start += UInt64(next - bytes.startIndex)
            bytes = bytes[next...]
        }
        // Only whole lines; a last line still being written comes with the next read. A line longer
        // than the whole budget is passed on in pieces rather than never.
        if let newline = bytes.lastIndex(of: 0x0A) {
            bytes = bytes[...newline]
        } else if UInt64(bytes.count) < maxBytes {
            bytes = bytes.prefix(0)
        }
        return Chunk(offset: start + UInt64(bytes.count), text: String(decoding: bytes, as: UTF8.self))
    }
}
