import Foundation
import Testing
@testable import ModelStore

struct APIKeyStoreTests {
    private func store() -> APIKeyStore {
        APIKeyStore(file: FileManager.default.temporaryDirectory.appendingPathComponent("wick-keys-\(UUID().uuidString)/api-keys.json"))
    }

    @Test func concurrentChangesLoseNoKey() async throws {
        let store = store()
        defer { try? FileManager.default.removeItem(at: store.file.deletingLastPathComponent()) }
        let writers = (0..<8).map { writer in Thread.detached { for n in 0..<8 { _ = try store.issue(name: "w\(writer)-\(n)") } } }
        for writer in writers { try await writer() }
        #expect(store.entries().count == 64)
        let revokers = (0..<8).map { writer in Thread.detached { try store.revoke(name: "w\(writer)-0") } }
        for revoker in revokers { #expect(try await revoker()) }
        #expect(store.entries().count == 56 && !store.entries().contains { $0.name.hasSuffix("-0") })
        #expect(try store.revoke(name: "w0-0") == false)
    }

    /// `wick elastic connect` changes the file from another process: a change waits for its lock.
    @Test func aChangeWaitsForAnotherProcessHoldingTheLock() async throws {
        let store = store()
        let dir = store.file.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let held = dir.appendingPathComponent("held"), release = dir.appendingPathComponent("release")
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = [store.file.path + ".lock", "-c", "touch '\(held.path)'; while [ ! -e '\(release.path)' ]; do sleep 0.02; done"]
        holder.standardOutput = FileHandle.nullDevice
        holder.standardError = FileHandle.nullDevice
        try holder.run()
        // Let go however the test ends, so no shell outlives it.
        defer {
            FileManager.default.createFile(atPath: release.path, contents: nil)
            holder.waitUntilExit()
            try? FileManager.default.removeItem(at: dir)
        }
        while !FileManager.default.fileExists(atPath: held.path) { try await Task.sleep(for: .milliseconds(10)) }
        // On a thread of its own: blocked in `flock`, it must not hold one of the few cooperative threads.
        let issued = Thread.detached { try store.issue(name: "elasticsearch") }
        try await Task.sleep(for: .milliseconds(300))
        #expect(store.entries().isEmpty, "the key is written only once the other process lets go")
        FileManager.default.createFile(atPath: release.path, contents: nil)
        _ = try await issued()
        #expect(store.entries().map(\.name) == ["elasticsearch"])
    }
}

extension Thread {
    /// Runs `work` on a new thread and returns a function that waits for its result.
    static func detached<T: Sendable>(_ work: @escaping @Sendable () throws -> T) -> @Sendable () async throws -> T {
        let result = ResultBox<T>()
        detachNewThread { result.set(Result { try work() }) }
        return { try await result.value() }
    }
}

/// A result set once from a thread and awaited from tasks.
private final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSCondition()
    private var result: Result<T, Error>?
    private var waiting: [CheckedContinuation<T, Error>] = []

    func set(_ value: Result<T, Error>) {
        lock.lock()
        result = value
        let resume = waiting
        waiting = []
        lock.unlock()
        for continuation in resume { continuation.resume(with: value) }
    }

    func value() async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            lock.lock()
            if let result {
                lock.unlock()
                continuation.resume(with: result)
            } else {
                waiting.append(continuation)
                lock.unlock()
            }
        }
    }
}
