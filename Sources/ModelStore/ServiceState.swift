#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// `$WICK_HOME/service.json`: how the CLI finds the running service (written by the service once
/// it listens, removed when it stops; readable by its owner only).
public struct ServiceState: Codable, Sendable, Equatable {
    public var pid: Int32
    public var host: String
    public var port: Int
    /// The file the service read its API keys from, so the owner's CLI can authenticate.
    public var apiKeyFile: String?
    /// A token the service accepts from its owner's CLI, made anew at each start (this file is the
    /// owner's only), so the CLI keeps working when keys are issued to others.
    public var token: String?
    /// Whether the service serves HTTPS (its own certificate, which its CLI does not verify on loopback).
    public var tls: Bool?

    enum CodingKeys: String, CodingKey { case pid, host, port, apiKeyFile = "api_key_file", token, tls }

    public init(pid: Int32, host: String, port: Int, apiKeyFile: String?, token: String? = nil, tls: Bool = false) {
        self.pid = pid
        self.host = host
        self.port = port
        self.apiKeyFile = apiKeyFile
        self.token = token
        self.tls = tls
    }

    /// The recorded state, if its process still runs and is a Wick service (a service killed
    /// without cleaning up leaves a pid that another process may have taken since).
    public static func read(_ home: WickHome) -> ServiceState? {
        guard let data = try? Data(contentsOf: home.serviceState),
              let state = try? JSONDecoder().decode(ServiceState.self, from: data),
              let cmdline = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(state.pid)/cmdline")) else { return nil }
        let arguments = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return arguments.contains("server") && arguments.contains("--foreground") ? state : nil
    }

    public func write(_ home: WickHome) throws {
        try home.prepare()
        let tmp = home.serviceState.appendingPathExtension("tmp")
        FileManager.default.createFile(atPath: tmp.path, contents: try JSONEncoder().encode(self), attributes: [.posixPermissions: 0o600])
        guard rename(tmp.path, home.serviceState.path) == 0 else { throw StoreError.io("cannot write \(home.serviceState.path)") }
    }

    /// Removes the state file if it still describes process `pid`.
    public static func remove(_ home: WickHome, pid: Int32) {
        guard let data = try? Data(contentsOf: home.serviceState),
              let state = try? JSONDecoder().decode(ServiceState.self, from: data), state.pid == pid else { return }
        try? FileManager.default.removeItem(at: home.serviceState)
    }

    /// The address a client connects to (a service bound to every interface is reached on loopback).
    public var clientBase: String {
        let h = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host
        return "\(tls == true ? "https" : "http")://\(h.contains(":") ? "[\(h)]" : h):\(port)"
    }
}
