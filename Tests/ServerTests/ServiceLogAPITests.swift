import Foundation
import Testing
@testable import Server

/// Reading the service log in whole lines from an offset, as the web interface's Logs screen follows it.
struct ServiceLogAPITests {
    static func log(_ text: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("wick-log-\(UUID().uuidString).log")
        try Data(text.utf8).write(to: url)
        return url
    }

    @Test func whatFollowsAnOffsetComesInWholeLines() throws {
        let url = try Self.log("one\ntwo\nthr")
        defer { try? FileManager.default.removeItem(at: url) }
        let first = try ServiceLogAPI.read(url, after: 0)
        #expect(first == .init(offset: 8, text: "one\ntwo\n"))  // "thr" is still being written
        #expect(try ServiceLogAPI.read(url, after: first.offset) == .init(offset: 8, text: ""))
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("ee\nfour\n".utf8))
        try handle.close()
        #expect(try ServiceLogAPI.read(url, after: first.offset) == .init(offset: 19, text: "three\nfour\n"))
    }

    @Test func withoutAnOffsetTheTailStartsOnALine() throws {
        let line = String(repeating: "x", count: 99) + "\n"  // 100 bytes
        let lines = 1000  // 100 000 bytes: more than the 64 KiB tail
        let url = try Self.log(String(repeating: line, count: lines))
        defer { try? FileManager.default.removeItem(at: url) }
        let tail = try ServiceLogAPI.read(url, after: nil)
        #expect(tail.offset == 100_000)
        #expect(tail.text.split(separator: "\n").allSatisfy { $0.count == 99 })
        // The whole lines that fit in 64 KiB: a tail starting exactly on a line keeps it.
        #expect(tail.text.utf8.count == Int(ServiceLogAPI.tailBytes) / 100 * 100)
        // A log truncated or replaced since the last read (the offset beyond its end) starts over from its tail.
        try Data("new\n".utf8).write(to: url)
        #expect(try ServiceLogAPI.read(url, after: 100_000) == .init(offset: 4, text: "new\n"))
    }

    @Test func aLineLongerThanTheBudgetComesInPieces() throws {
        let url = try Self.log(String(repeating: "y", count: Int(ServiceLogAPI.maxBytes) + 10))
        defer { try? FileManager.default.removeItem(at: url) }
        let first = try ServiceLogAPI.read(url, after: 0)
        #expect(first.offset == ServiceLogAPI.maxBytes)
        #expect(try ServiceLogAPI.read(url, after: first.offset).offset == first.offset)  // the rest waits for its newline
    }
}
