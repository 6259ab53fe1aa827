import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL

/// JSON requests to an Elasticsearch or a Kibana, with its credentials (an API key or a user and
/// password), the cluster's CA certificate or no verification for a self-signed test cluster; in a
/// dry run, each request is printed instead of sent.
struct ElasticsearchClient {
    enum Credentials {
        case apiKey(String)
        case basic(user: String, password: String)

        var header: String {
            switch self {
            case .apiKey(let key): "ApiKey \(key)"
            case .basic(let user, let password): "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
            }
        }
    }

    struct Reply {
        let status: Int
        let json: [String: Any]
        /// The body when it is a JSON array (Kibana's connector list).
        var array: [[String: Any]]? = nil

        /// Elasticsearch's `error.reason` (or Kibana's `message`), else the status.
        var reason: String {
            if let error = json["error"] as? [String: Any], let reason = error["reason"] as? String { return reason }
            if let message = json["message"] as? String { return message }
            if let error = json["error"] as? String { return error }
            return "HTTP \(status)"
        }
    }

    let base: String
    let credentials: Credentials
    let extraHeaders: [(String, String)]
    let dryRun: Bool
    let http: HTTPClient

    init(url: String, credentials: Credentials, extraHeaders: [(String, String)] = [], caCertificate: String?, insecure: Bool, dryRun: Bool) throws {
        base = url.hasSuffix("/") ? String(url.dropLast()) : url
        self.credentials = credentials
        self.extraHeaders = extraHeaders
        self.dryRun = dryRun
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caCertificate {
            guard FileManager.default.isReadableFile(atPath: caCertificate) else { throw CLIError("cannot read the CA certificate \(caCertificate)") }
            tls.trustRoots = .file(caCertificate)
        }
        if insecure { tls.certificateVerification = .none }
        http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                          configuration: .init(tlsConfiguration: tls, timeout: .init(connect: .seconds(10))))
    }

    func shutdown() async { try? await http.shutdown() }

    /// Sends one request; a cluster that cannot be reached is a `CLIError` naming it. In a dry run
    /// the request is printed (secrets masked) and a 200 with an empty body comes back.
    func send(_ method: String, _ path: String, _ body: [String: Any]? = nil, secrets: [String] = [], timeout: TimeAmount = .minutes(5)) async throws -> Reply {
        let data = try body.map { try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }
        if dryRun {
            var text = data.map { String(decoding: $0, as: UTF8.self) } ?? ""
            for secret in secrets { text = text.replacingOccurrences(of: secret, with: "<new Wick API key>") }
            print("\(method) \(base)\(path)\(text.isEmpty ? "" : "\n  \(text)")")
            return Reply(status: 200, json: [:])
        }
        var request = HTTPClientRequest(url: base + path)
        request.method = .init(rawValue: method)
        request.headers.add(name: "Authorization", value: credentials.header)
        for (name, value) in extraHeaders { request.headers.add(name: name, value: value) }
        if let data {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: data))
        }
        do {
            let response = try await http.execute(request, timeout: timeout)
            let bytes = Data((try await response.body.collect(upTo: 16 << 20)).readableBytesView)
            let value = try? JSONSerialization.jsonObject(with: bytes)
            return Reply(status: Int(response.status.code), json: value as? [String: Any] ?? [:], array: value as? [[String: Any]])
        } catch {
            throw CLIError("cannot reach \(base) (\(error))")
        }
    }

    /// POSTs a streaming inference call and returns the text of its chunks' `delta.content`.
    func streamText(_ path: String, _ body: [String: Any]) async throws -> String {
        var request = HTTPClientRequest(url: base + path)
        request.method = .POST
        request.headers.add(name: "Authorization", value: credentials.header)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .minutes(5))
        } catch {
            throw CLIError("cannot reach \(base) (\(error))")
        }
        var raw = Data()
        for try await chunk in response.body { raw.append(contentsOf: chunk.readableBytesView) }
        guard response.status.code < 300 else {
            let json = (try? JSONSerialization.jsonObject(with: raw)) as? [String: Any] ?? [:]
            throw CLIError(Reply(status: Int(response.status.code), json: json).reason)
        }
        var text = ""
        for line in String(decoding: raw, as: UTF8.self).split(separator: "\n") where line.hasPrefix("data:") {
            let payload = line.dropFirst(5).trimmingCharacters(in: .whitespaces)
            guard payload != "[DONE]", let chunk = (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) as? [String: Any] else { continue }
            for choice in chunk["choices"] as? [[String: Any]] ?? [] {
                text += (choice["delta"] as? [String: Any])?["content"] as? String ?? ""
            }
        }
        return text
    }
}
