import AsyncHTTPClient
import Foundation
import ModelStore
import NIOCore
import NIOSSL

/// The CLI's connection to a running service: found through `$WICK_HOME/service.json` (or
/// `--host/--port` for another machine), authenticated with `WICK_API_KEY`, the service's key file or
/// the token the local service keeps for its owner.
struct ServiceClient {
    let base: String
    let key: String?

    struct Failure: Error, CustomStringConvertible {
        let description: String
        /// The service answered (as opposed to: nothing listens there).
        var answered = true
    }

    /// The local service, or the one `host`/`port` name. Nil when none is recorded and none is named.
    static func find(home: WickHome, host: String? = nil, port: Int? = nil) -> ServiceClient? {
        let state = ServiceState.read(home)
        let envKey = ProcessInfo.processInfo.environment["WICK_API_KEY"]
        let fileKey = state?.apiKeyFile.flatMap(APIKeyFile.keys)?.first
        let key = envKey?.isEmpty == false ? envKey : fileKey
        if host != nil || port != nil {
            let h = host ?? "127.0.0.1"
            return ServiceClient(base: "http://\(h.contains(":") ? "[\(h)]" : h):\(port ?? 1234)", key: key)
        }
        // The local service's own token goes to the local service only.
        return state.map { ServiceClient(base: $0.clientBase, key: key ?? $0.token) }
    }

    /// The local service or an error that says how to start one.
    static func require(home: WickHome, host: String? = nil, port: Int? = nil) throws -> ServiceClient {
        guard let client = find(home: home, host: host, port: port) else {
            throw Failure(description: "no Wick service is running; start it with `wick server start`", answered: false)
        }
        return client
    }

    /// Loads of large models take minutes: no read timeout, only a connect timeout.
    static let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                                 configuration: .init(timeout: .init(connect: .seconds(5))))
    /// The local service over HTTPS: its certificate names the address others reach it at, and a
    /// self-signed one is common, so on loopback it is not verified (the token authenticates).
    static let localTLS: HTTPClient = {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                          configuration: .init(tlsConfiguration: tls, timeout: .init(connect: .seconds(5))))
    }()

    private var client: HTTPClient {
        guard let url = URL(string: base), url.scheme == "https", AdvertisedURL.isLoopback(url.host ?? "") else { return Self.http }
        return Self.localTLS
    }

    func get(_ path: String) async throws -> [String: Any] { try await send("GET", path, body: nil) }

    func post(_ path: String, _ body: [String: Any]) async throws -> [String: Any] {
        try await send("POST", path, body: try JSONSerialization.data(withJSONObject: body))
    }

    private func send(_ method: String, _ path: String, body: Data?) async throws -> [String: Any] {
        let response = try await execute(method, path, body: body, timeout: .minutes(30))
        let data = Data((try await response.body.collect(upTo: 64 << 20)).readableBytesView)
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    /// Sends a request (with the key, and a JSON body) and returns a successful response; a service
    /// that does not answer, or answers with an error, is a `Failure` saying so.
    private func execute(_ method: String, _ path: String, body: Data?, timeout: TimeAmount) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: base + path)
        request.method = .init(rawValue: method)
        if let key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: timeout)
        } catch {
            throw Failure(description: "no Wick service answers at \(base) (\(error)); start it with `wick server start`", answered: false)
        }
        guard response.status.code < 300 else {
            let data = Data((try await response.body.collect(upTo: 1 << 20)).readableBytesView)
            let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            throw Failure(description: (json["error"] as? [String: Any])?["message"] as? String ?? "HTTP \(response.status.code)")
        }
        return response
    }

    /// POSTs a streaming request and hands each server-sent event's data to `onData` until `[DONE]`.
    func stream(_ path: String, _ body: [String: Any], onData: ([String: Any]) -> Void) async throws {
        let response = try await execute("POST", path, body: try JSONSerialization.data(withJSONObject: body), timeout: .hours(24))
        var pending = Data()
        for try await chunk in response.body {
            pending.append(contentsOf: chunk.readableBytesView)
            while let newline = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                pending.removeSubrange(pending.startIndex...newline)
                guard line.hasPrefix("data: ") else { continue }
                let payload = line.dropFirst(6)
                if payload == "[DONE]" { return }
                guard let object = (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) as? [String: Any] else { continue }
                if let error = object["error"] as? [String: Any] { throw Failure(description: error["message"] as? String ?? "the generation failed") }
                onData(object)
            }
        }
    }
}
