import Foundation
import GGUF
import Testing
@testable import Models

/// Pages of reused prefixes written to disk come back after a restart (a new pool, a new cache
/// object on the same directory) and give the same logits; files that fail a check are ignored.
@Suite struct PrefixDiskCacheTests {
    let model: Transformer
    let directory: URL
    init() throws {
        model = try BatchedStepTests.model()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("wick-prefix-\(UUID().uuidString)")
    }

    static let fingerprint = Array("tiny-llama".utf8)
    let prompt = KVPagingTests.prompt(200) + [1, 2, 3]

    /// Computes the prompt's first 150 tokens and writes their full pages (two) to disk.
    func writeTwoPages() -> PrefixDiskCache {
        let disk = PrefixDiskCache(directory: directory, fingerprint: Self.fingerprint, budgetBytes: 1 << 30)
        let cache = model.makeCache(contextLength: 512)
        _ = model.forward(Array(prompt.prefix(150)), cache: cache)
        disk.store(cache, upTo: 150)
        disk.flush()
        return disk
    }

    func files() -> [URL] {
        ((try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? []).filter { $0.pathExtension == "kv" }
    }

    /// A "restarted" sequence: a fresh pool and disk cache; returns the tokens it read back and its logits.
    func restart(fingerprint: [UInt8] = fingerprint) -> (Int, [Float]) {
        let disk = PrefixDiskCache(directory: directory, fingerprint: fingerprint, budgetBytes: 1 << 30)
        let cache = model.makeCache(contextLength: 512)
        let held = cache.reuse(prompt, limit: prompt.count - 1, disk: disk)
        return (held, model.forward(Array(prompt[held...]), cache: cache))
    }

    @Test func pagesComeBackAfterARestart() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = writeTwoPages()
        #expect(files().count == 2)
        let (held, logits) = restart()
        #expect(held == 128)
        let fresh = model.forward(prompt, cache: model.makeCache(contextLength: 512))
        let diff = zip(logits, fresh).map { abs($0 - $1) }.max() ?? .infinity
        #expect(diff <= 5e-3 * (fresh.map { abs($0) }.max() ?? 1))
    }

    @Test func aCorruptedFileIsIgnoredAndRemoved() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = writeTwoPages()
        // Flip one byte in the middle of the second page's keys.
        let disk = PrefixDiskCache(directory: directory, fingerprint: Self.fingerprint, budgetBytes: 1 << 30)
        let first = PageHash.chain(PageHash.root, prompt[0..<64])
        let target = disk.url(PageHash.chain(first, prompt[64..<128]))
        var data = try Data(contentsOf: target)
        data[data.count / 2] ^= 0x40
        try data.write(to: target)
        let (held, _) = restart()
        #expect(held == 64, "reading stops at the corrupted page")
        #expect(!FileManager.default.fileExists(atPath: target.path))
    }

    @Test func anotherModelsFilesAreNotTrusted() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = writeTwoPages()
        let (held, _) = restart(fingerprint: Array("another-model".utf8))
        #expect(held == 0)
    }

    @Test func theOldestFilesGoWhenTheBudgetIsPassed() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = writeTwoPages()
        let size = try Data(contentsOf: files()[0]).count
        let small = PrefixDiskCache(directory: directory, fingerprint: Self.fingerprint, budgetBytes: 2 * size)
        let other = model.makeCache(contextLength: 512)
        _ = model.forward(KVPagingTests.prompt(70, seed: 9), cache: other)
        small.store(other, upTo: 70)
        small.flush()
        #expect(files().count == 2)
    }
}
