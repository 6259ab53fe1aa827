#if canImport(Glibc)
import Glibc
#endif
import Crypto
import Foundation

/// `$WICK_HOME/api-keys.json`: keys Wick issued (e.g. for an Elasticsearch endpoint), kept as SHA-256
/// digests only, each with the name of what it was issued for. The running service reads the file
/// again whenever it changes, so an issued key works at once and a revoked one stops working.
/// Changes read, change and rewrite the file under an exclusive lock on `api-keys.json.lock`, so the
/// service's Keys screen and `wick elastic connect` in another process never lose each other's keys.
public struct APIKeyStore: Sendable {
    public struct Entry: Codable, Sendable, Equatable {
        public var name: String
        /// Hex SHA-256 of the key.
        public var sha256: String
        public var created: Date
    }

    public let file: URL

    public init(home: WickHome) { file = home.apiKeys }
    public init(file: URL) { self.file = file }

    public func entries() -> [Entry] {
        guard let data = try? Data(contentsOf: file) else { return [] }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return (try? decoder.decode([Entry].self, from: data)) ?? []
    }

    /// Issues a new random key under `name` (replacing a key of that name) and returns it: the
    /// only time it exists in clear.
    public func issue(name: String) throws -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        let key = "wick-" + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        try changing { all in all.filter { $0.name != name } + [Entry(name: name, sha256: Self.digest(key), created: Date())] }
        return key
    }

    /// Removes the key issued under `name`; true when there was one.
    @discardableResult
    public func revoke(name: String) throws -> Bool {
        var found = false
        try changing { all in
            found = all.contains { $0.name == name }
            return all.filter { $0.name != name }
        }
        return found
    }

    public static func digest(_ key: String) -> String {
        SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Runs one read-change-write of the file while holding the lock file. `flock` belongs to the open
    /// file, so two changes in one process wait for each other just as two processes do.
    private func changing(_ change: ([Entry]) -> [Entry]) throws {
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let lockPath = file.appendingPathExtension("lock").path
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError.io("cannot open \(lockPath)") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw StoreError.io("cannot lock \(lockPath)") }
        }
        let before = entries()
        let after = change(before)
        if after != before { try write(after) }
    }

    /// Written to a temporary file readable by the owner only, then renamed over the old one.
    private func write(_ entries: [Entry]) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let tmp = file.appendingPathExtension("tmp")
        guard FileManager.default.createFile(atPath: tmp.path, contents: try encoder.encode(entries), attributes: [.posixPermissions: 0o600]),
              rename(tmp.path, file.path) == 0 else { throw StoreError.io("cannot write \(file.path)") }
    }
}
