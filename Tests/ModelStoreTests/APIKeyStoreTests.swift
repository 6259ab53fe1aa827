import Foundation
import Testing
import TestSupport
@testable import ModelStore

struct APIKeyStoreTests {
    private func store() -> APIKeyStore {
        APIKeyStore(file: FileManager.default.temporaryDirectory.appendingPathComponent("wick-keys-\(UUID().uuidString)/api-keys.json"))
    }

    @Test func concurrentChangesLoseNoKey() async throws {
        let store = store()
        defer { try? FileManager.default.removeItem(at: store.file.deletingLastPathComponent()) }
        // Each change blocks in `flock` on a thread of its own.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 { group.addTask { try await onOwnThread { for n in 0..<8 { _ = try store.issue(name: "w\(writer)-\(n)") } } } }
            try await group.waitForAll()
        }
        #expect(store.entries().count == 64)
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for writer in 0..<8 { group.addTask { try await onOwnThread { try store.revoke(name: "w\(writer)-0") } } }
            for try await found in group { #expect(found) }
        }
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
        let issuing = Task { try await onOwnThread { try store.issue(name: "elasticsearch") } }
        try await Task.sleep(for: .milliseconds(300))
        #expect(store.entries().isEmpty, "the key is written only once the other process lets go")
        FileManager.default.createFile(atPath: release.path, contents: nil)
        _ = try await issuing.value
        #expect(store.entries().map(\.name) == ["elasticsearch"])
    }
}
