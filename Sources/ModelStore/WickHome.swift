import Foundation

/// Where Wick keeps its state: `$WICK_HOME`, by default `~/.wick`. Models live under
/// `models/OWNER/REPO/`, the running service's state, settings and logs beside them.
public struct WickHome: Sendable {
    public let root: URL

    public init(root: URL) { self.root = root.standardizedFileURL }

    /// `$WICK_HOME`, else `~/.wick`.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> WickHome {
        if let path = environment["WICK_HOME"], !path.isEmpty { return WickHome(root: URL(fileURLWithPath: path)) }
        return WickHome(root: FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".wick"))
    }

    public var models: URL { root.appendingPathComponent("models") }
    /// The running service's address and process (`ServiceState`).
    public var serviceState: URL { root.appendingPathComponent("service.json") }
    public var settings: URL { root.appendingPathComponent("settings.json") }
    /// Digests of the API keys Wick issued (`APIKeyStore`).
    public var apiKeys: URL { root.appendingPathComponent("api-keys.json") }
    public var logs: URL { root.appendingPathComponent("logs") }
    /// KV pages of reused prompt prefixes, per model (`PrefixDiskCache`).
    public var cache: URL { root.appendingPathComponent("cache") }
    public var serviceLog: URL { logs.appendingPathComponent("server.log") }

    /// Creates the folders that must exist (only the owner may read them: the state names a key file).
    public func prepare() throws {
        for dir in [root, models, logs] {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
    }
}
