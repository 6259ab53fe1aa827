import Foundation
import Testing
@testable import GGUF
#if canImport(Glibc)
import Glibc
#endif

/// A mapped file under a read lease: another process truncating it waits until the mapping is
/// released (so the mapped pages are never lost under a reader), and the mapping's owner sees the
/// file is about to change.
struct MappedBytesLeaseTests {
    func writeFile(bytes: Int) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wick-lease-\(UUID().uuidString)").path
        try Data((0..<bytes).map { UInt8(truncatingIfNeeded: $0) }).write(to: URL(fileURLWithPath: path))
        return path
    }

    func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? -1
    }

    @Test func aTruncationWaitsForTheLeasedMappingToGo() async throws {
        signal(SIGIO, SIG_IGN)  // the lease's break is signalled; its default action ends the process
        let path = try writeFile(bytes: 1 << 20)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var mapped: MappedBytes? = try MappedBytes(path: path)
        #expect(mapped?.takeReadLease() == .taken)
        #expect(mapped?.isBeingChanged == false)

        let truncation = Process()
        truncation.executableURL = URL(fileURLWithPath: "/bin/sh")
        truncation.arguments = ["-c", ": > \"$0\"", path]
        try truncation.run()
        var noticed = false
        for _ in 0..<500 where !noticed {
            noticed = mapped?.isBeingChanged == true
            if !noticed { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(noticed)
        // The file keeps its bytes while mapped: the last page is still readable.
        #expect(size(path) == 1 << 20 && truncation.isRunning)
        #expect(mapped?.buffer[(1 << 20) - 1] == UInt8(truncatingIfNeeded: (1 << 20) - 1))
        // A second mapping cannot be leased while the file waits to change.
        #expect(try MappedBytes(path: path).takeReadLease() == .busy)

        mapped = nil
        for _ in 0..<500 where truncation.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        #expect(!truncation.isRunning && truncation.terminationStatus == 0)
        #expect(size(path) == 0)
    }

    @Test func copiesAndEmptyFilesTakeNoLease() throws {
        #expect(MappedBytes(copying: [1, 2, 3]).takeReadLease() == .unavailable)
        let path = try writeFile(bytes: 0)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let empty = try MappedBytes(path: path)
        #expect(empty.takeReadLease() == .unavailable && !empty.isBeingChanged)
    }
}
