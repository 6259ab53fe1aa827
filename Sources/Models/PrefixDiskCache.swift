import Foundation
import GGUF
import Synchronization

/// Full KV pages of reused prefixes (system prompts, tool lists) kept on disk, so that after a
/// restart or a reload a prompt that begins the same way reads them back instead of computing them.
/// One file per page, named by its chain hash, in a directory per model; files are written off the
/// inference lane, and the oldest go when the directory passes its byte budget.
///
/// A file is trusted only when everything checks: the format, the model's fingerprint and the
/// cache geometry, the page's chain hash, parent and tokens against the prompt, and a checksum over
/// the whole file. Anything else (a corrupt, truncated or foreign file) is ignored and removed.
public final class PrefixDiskCache: @unchecked Sendable {
    public let directory: URL
    /// Identifies the model file (its weights decide the keys and values).
    let fingerprint: [UInt8]
    let budgetBytes: Int
    private let writer = DispatchQueue(label: "wick.prefix-cache", qos: .utility)
    /// Pages on disk (or being written), by chain hash.
    private let stored = Mutex<Set<UInt64>>([])

    static let magic: [UInt8] = Array("WICKKV01".utf8)

    /// `fingerprint`: bytes identifying the model file (at most 64).
    public init(directory: URL, fingerprint: [UInt8], budgetBytes: Int) {
        self.directory = directory
        self.fingerprint = Array(fingerprint.prefix(64))
        self.budgetBytes = budgetBytes
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        // Files a stopped process left half written.
        for name in names where name.hasSuffix(".part") { try? FileManager.default.removeItem(at: directory.appendingPathComponent(name)) }
        stored.withLock { $0 = Set(names.compactMap { $0.hasSuffix(".kv") ? UInt64($0.dropLast(3), radix: 16) : nil }) }
    }

    func url(_ hash: UInt64) -> URL { directory.appendingPathComponent(String(hash, radix: 16) + ".kv") }

    /// Writes the full pages of `cache` up to `positions` that are not on disk yet. The pages'
    /// contents are copied now (the pool may reuse them); the files are written in the background.
    public func store(_ cache: KVCache, upTo positions: Int) {
        let pool = cache.pool
        for (f, (page, hash)) in cache.fullPages.prefix(positions / KVPagePool.pageSize).enumerated() {
            let isNew = stored.withLock { $0.insert(hash).inserted }
            guard isNew else { continue }
            let parent = f == 0 ? PageHash.root : cache.fullPages[f - 1].hash
            let size = KVPagePool.pageSize
            var bytes = header(hash: hash, parent: parent, tokens: cache.tokens[(f * size)..<((f + 1) * size)], pool: pool)
            pool.withPage(page) { keys, values in
                bytes.append(contentsOf: UnsafeRawBufferPointer(keys))
                bytes.append(contentsOf: UnsafeRawBufferPointer(values))
            }
            let sum = bytes.withUnsafeBytes { Self.checksum($0) }
            withUnsafeBytes(of: sum.littleEndian) { bytes.append(contentsOf: $0) }
            let file = Data(bytes)
            writer.async { [self] in
                let target = url(hash), temporary = target.appendingPathExtension("part")
                do {
                    try file.write(to: temporary)
                    guard rename(temporary.path, target.path) == 0 else { throw CocoaError(.fileWriteUnknown) }
                } catch {
                    try? FileManager.default.removeItem(at: temporary)
                    stored.withLock { _ = $0.remove(hash) }
                }
                trim()
            }
        }
    }

    /// The page holding `tokens` after the prefix `parent`, read from disk into a page of `pool`
    /// (registered in its index), or nil when there is no such file or it fails a check.
    func load(parent: UInt64, tokens: ArraySlice<Int32>, into pool: KVPagePool) -> (page: Int32, hash: UInt64)? {
        let hash = PageHash.chain(parent, tokens)
        guard stored.withLock({ $0.contains(hash) }) else { return nil }
        let file = url(hash)
        let expected = header(hash: hash, parent: parent, tokens: tokens, pool: pool)
        let payload = 2 * pool.pageStride
        guard let data = try? Data(contentsOf: file), data.count == expected.count + payload + 8,
              data.prefix(expected.count).elementsEqual(expected),
              data.withUnsafeBytes({ raw in
                  UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: raw.count - 8, as: UInt64.self))
                      == Self.checksum(UnsafeRawBufferPointer(rebasing: raw.dropLast(8)))
              }),
              let page = pool.allocate()
        else {
            try? FileManager.default.removeItem(at: file)
            stored.withLock { _ = $0.remove(hash) }
            return nil
        }
        pool.withPage(page) { keys, values in
            data.withUnsafeBytes { raw in
                let start = raw.baseAddress! + expected.count
                keys.copyMemory(from: UnsafeRawBufferPointer(start: start, count: keys.count))
                values.copyMemory(from: UnsafeRawBufferPointer(start: start + keys.count, count: values.count))
            }
        }
        _ = pool.register(page, parent: parent, tokens: tokens)
        // Touch the file: the budget removes the least recently used first.
        try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: file.path)
        return (page, hash)
    }

    /// What a page's file begins with: everything that must match before its data is trusted.
    private func header(hash: UInt64, parent: UInt64, tokens: ArraySlice<Int32>, pool: KVPagePool) -> [UInt8] {
        var bytes = Self.magic
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        append(UInt32(fingerprint.count))
        bytes += fingerprint
        for n in [pool.layers, pool.kvDim, KVPagePool.pageSize, pool.rowBytes] { append(UInt32(n)) }
        bytes += Array(pool.type.rawValue.utf8)
        append(hash)
        append(parent)
        for t in tokens { append(t) }
        return bytes
    }

    /// Removes the least recently used files while the directory passes its budget.
    private func trim() {
        let keys: [URLResourceKey] = [.fileSizeKey, .contentModificationDateKey]
        guard let files = try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: keys) else { return }
        var entries = files.filter { $0.pathExtension == "kv" }.compactMap { file -> (URL, Int, Date)? in
            guard let values = try? file.resourceValues(forKeys: Set(keys)) else { return nil }
            return (file, values.fileSize ?? 0, values.contentModificationDate ?? .distantPast)
        }
        var total = entries.reduce(0) { $0 + $1.1 }
        guard total > budgetBytes else { return }
        entries.sort { $0.2 < $1.2 }
        for (file, size, _) in entries where total > budgetBytes {
            try? FileManager.default.removeItem(at: file)
            if let hash = UInt64(file.deletingPathExtension().lastPathComponent, radix: 16) { stored.withLock { _ = $0.remove(hash) } }
            total -= size
        }
    }

    /// A 64-bit checksum of `bytes` (integrity, not authenticity: the directory is the owner's).
    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        let words = bytes.count / 8
        for i in 0..<words { h = PageHash.mix(h ^ bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) }
        var tail: UInt64 = 0
        for i in (words * 8)..<bytes.count { tail |= UInt64(bytes[i]) << (8 * UInt64(i - words * 8)) }
        return PageHash.mix(h ^ tail ^ UInt64(bytes.count))
    }

    /// Bytes that identify a model file without reading all of it: its header, metadata and tensor
    /// table, its size, and 64 samples of 4 KiB spread over the tensor data.
    public static func fingerprint(of file: GGUFFile) -> [UInt8] {
        let raw = file.bytes.buffer
        func hash(_ seed: UInt64) -> UInt64 {
            var h = PageHash.mix(seed ^ UInt64(file.fileSize))
            h = PageHash.mix(h ^ checksum(UnsafeRawBufferPointer(rebasing: raw[0..<min(file.dataOffset, raw.count)])))
            let span = max(0, raw.count - 4096)
            for i in 0..<64 {
                let start = span * i / 63
                h = PageHash.mix(h ^ checksum(UnsafeRawBufferPointer(rebasing: raw[start..<min(start + 4096, raw.count)])))
            }
            return h
        }
        var bytes: [UInt8] = []
        for seed: UInt64 in [1, 2] { withUnsafeBytes(of: hash(seed).littleEndian) { bytes.append(contentsOf: $0) } }
        return bytes
    }

    /// Waits for the files being written (tests; a stopping service).
    public func flush() { writer.sync {} }
}
