import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import NIOCore
import Testing
import ModelStore
@testable import Server

/// The HTTP layer without a model, over a real socket: auth, errors, limits and CORS (the
/// real-model HTTP tier is Tests/server, driven by the OpenAI SDK).
@Suite(.serialized) struct RouterTests {
    /// Runs the router on a free port for the duration of `body`.
    func withServer(cors: Bool = false, keys: [String] = ["secret", "other"], issued: URL? = nil, localToken: String? = nil,
                    rateLimit: Int = 0, logFile: URL? = nil, _ body: (URL) async throws -> Void) async throws {
        var configuration = WickServer.Configuration()
        configuration.logFile = logFile
        configuration.apiKeys = keys
        configuration.issuedKeys = issued
        configuration.localToken = localToken
        configuration.cors = cors
        configuration.maxBodyBytes = 1000
        configuration.rateLimitPerMinute = rateLimit
        let (ports, announce) = AsyncStream<Int>.makeStream()
        let server = WickServer(host: ModelHost(queue: InferenceQueue(threads: 1, maxQueued: 4), store: nil), configuration: configuration)
        let app = Application(router: server.makeRouter(), server: server.httpServer(),
                              configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in announce.yield(channel.localAddress?.port ?? 0) })
        let running = Task { try await app.run() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        do {
            try await body(URL(string: "http://127.0.0.1:\(port)")!)
        } catch {
            running.cancel()
            throw error
        }
        running.cancel()
        _ = try? await running.value
    }

    struct Reply {
        let status: Int
        let headers: [AnyHashable: Any]
        let body: Data
        /// The string fields of an OpenAI error body (empty when the body is not one).
        var error: [String: String] {
            let json = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
            return ((json?["error"] as? [String: Any]) ?? [:]).compactMapValues { $0 as? String }
        }
        func header(_ name: String) -> String? {
            headers.first { ($0.key as? String)?.lowercased() == name.lowercased() }?.value as? String
        }
    }

    func send(_ base: URL, _ path: String, method: String = "GET", headers: [String: String] = [:], body: String? = nil) async throws -> Reply {
        // A query stays a query (appendingPathComponent would escape its '?').
        var request = URLRequest(url: URL(string: base.absoluteString + "/" + path)!)
        request.httpMethod = method
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        request.httpBody = body.map { Data($0.utf8) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        return Reply(status: http.statusCode, headers: http.allHeaderFields, body: data)
    }

    @Test func keysGuardTheAPIButNotHealth() async throws {
        try await withServer { base in
            #expect(try await send(base, "health").status == 200)
            let missing = try await send(base, "v1/models")
            #expect(missing.status == 401 && missing.error["code"] == "invalid_api_key")
            #expect(try await send(base, "v1/models", headers: ["Authorization": "Bearer secre"]).status == 401)
            #expect(try await send(base, "v1/models", headers: ["Authorization": "Bearer other"]).status == 200)
        }
    }

    @Test func theWebInterfaceIsServedWithoutAKeyAndLoadsNothingFromElsewhere() async throws {
        try await withServer { base in
            let page = try await send(base, "")
            #expect(page.status == 200 && page.header("Content-Type")?.hasPrefix("text/html") == true)
            #expect(String(decoding: page.body, as: UTF8.self).contains(#"<script type="module" src="/ui/app.js">"#))
            #expect(page.header("Content-Security-Policy")?.hasPrefix("default-src 'self'") == true)
            // Every module the page imports is served, as JavaScript.
            for name in WebInterface.assets.keys where name.hasSuffix(".js") {
                let module = try await send(base, "ui/" + name)
                #expect(module.status == 200 && module.header("Content-Type")?.hasPrefix("text/javascript") == true, "\(name)")
                for imported in String(decoding: module.body, as: UTF8.self).matches(of: /from '\.\/([a-z]+\.js)'/) {
                    #expect(WebInterface.assets[String(imported.1)] != nil, "\(name) imports \(imported.1)")
                }
            }
            #expect(try await send(base, "ui/style.css").header("Content-Type")?.hasPrefix("text/css") == true)
            let missing = try await send(base, "ui/..%2F..%2Fetc%2Fpasswd")
            #expect(missing.status == 404 && missing.error["type"] == "invalid_request_error")
            // The data behind the page still needs the key.
            #expect(try await send(base, "api/v1/models").status == 401)
        }
    }

    @Test func theServiceLogIsServedBehindTheKey() async throws {
        let log = try ServiceLogAPITests.log("2026-12-07T10:00:00+0000 info wick.server: serving\n")
        defer { try? FileManager.default.removeItem(at: log) }
        try await withServer(logFile: log) { base in
            #expect(try await send(base, "api/v1/logs").status == 401)
            let reply = try await send(base, "api/v1/logs", headers: ["Authorization": "Bearer secret"])
            let json = try #require(try JSONSerialization.jsonObject(with: reply.body) as? [String: Any])
            #expect(json["offset"] as? Int == 51 && (json["text"] as? String)?.hasSuffix("serving\n") == true)
            let bad = try await send(base, "api/v1/logs?after=-1", headers: ["Authorization": "Bearer secret"])
            #expect(bad.status == 400 && bad.error["param"] == "after")
        }
        try await withServer { base in
            let none = try await send(base, "api/v1/logs", headers: ["Authorization": "Bearer secret"])
            #expect(none.status == 404 && none.error["code"] == "no_log_file")
        }
    }

    @Test func readyOnlyWithAModelLoaded() async throws {
        try await withServer { base in
            let reply = try await send(base, "ready")  // open, like /health
            #expect(reply.status == 503 && reply.error["code"] == "not_ready" && reply.error["message"] == "No model is loaded.")
            #expect(reply.header("Retry-After") == "1")
        }
    }

    @Test func everyResponseCarriesARequestId() async throws {
        try await withServer { base in
            let given = try await send(base, "health", headers: ["X-Request-Id": "kibana-42.a_b"])
            #expect(given.header("X-Request-Id") == "kibana-42.a_b")
            // Errors too; an id with other characters (or too long) is replaced by the server's own.
            let unusable = try await send(base, "v1/models", headers: ["X-Request-Id": "bad/id:1"])
            #expect(unusable.status == 401)
            let own = try #require(unusable.header("X-Request-Id"))
            #expect(own != "bad/id:1" && RequestIDMiddleware<BasicRequestContext>.isUsable(own))
            let long = try await send(base, "health", headers: ["X-Request-Id": String(repeating: "a", count: 129)])
            #expect(long.header("X-Request-Id")?.count ?? 0 < 129)
            let a = try await send(base, "health"), b = try await send(base, "health")
            #expect(a.header("X-Request-Id") != nil && a.header("X-Request-Id") != b.header("X-Request-Id"))
        }
    }

    @Test func metricsNeedAKeyWhenKeysAreSet() async throws {
        // Without a registry (no bootstrap in tests) there is no /metrics; the guard is checked first.
        try await withServer { base in
            let guarded = try await send(base, "metrics")
            let absent = try await send(base, "metrics", headers: ["Authorization": "Bearer secret"])
            #expect(guarded.status == 401 && absent.status == 404)
        }
    }

    @Test func issuedKeysWorkAtOnceAndStopWhenRevoked() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wick-keys-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = APIKeyStore(file: dir.appendingPathComponent("api-keys.json"))
        try await withServer(keys: [], issued: store.file, localToken: "cli-token") { base in
            // No key given or issued: open, the local token changing nothing.
            #expect(try await send(base, "v1/models").status == 200)
            let key = try store.issue(name: "elasticsearch")
            #expect(!(try String(contentsOf: store.file, encoding: .utf8)).contains(key), "only the digest is stored")
            #expect(try await send(base, "v1/models").status == 401)
            #expect(try await send(base, "v1/models", headers: ["Authorization": "Bearer \(key)"]).status == 200)
            #expect(try await send(base, "v1/models", headers: ["Authorization": "Bearer cli-token"]).status == 200)
            let rotated = try store.issue(name: "elasticsearch")
            #expect(try await send(base, "v1/models", headers: ["Authorization": "Bearer \(key)"]).status == 401)
            #expect(try await send(base, "v1/models", headers: ["Authorization": "Bearer \(rotated)"]).status == 200)
            try store.revoke(name: "elasticsearch")
            #expect(try await send(base, "v1/models").status == 200)
        }
    }

    @Test func keysAreIssuedAndRevokedThroughTheAPI() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wick-keys-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = APIKeyStore(file: dir.appendingPathComponent("api-keys.json"))
        func json(_ reply: Reply) -> [String: Any] { ((try? JSONSerialization.jsonObject(with: reply.body)) as? [String: Any]) ?? [:] }
        try await withServer(keys: [], issued: store.file) { base in
            let none = try await send(base, "api/v1/keys")
            #expect(none.status == 200 && (json(none)["keys"] as? [Any])?.isEmpty == true && json(none)["configured"] as? Int == 0)
            let created = try await send(base, "api/v1/keys", method: "POST", body: #"{"name":"laptop"}"#)
            let key = try #require(json(created)["key"] as? String)
            #expect(created.status == 201 && key.hasPrefix("wick-") && json(created)["name"] as? String == "laptop")
            // The first issued key turns authentication on.
            #expect(try await send(base, "api/v1/keys").status == 401)
            let auth = ["Authorization": "Bearer \(key)"]
            let listed = try await send(base, "api/v1/keys", headers: auth)
            #expect((json(listed)["keys"] as? [[String: Any]])?.map { $0["name"] as? String } == ["laptop"])
            #expect(!String(decoding: listed.body, as: UTF8.self).contains(key), "a key is shown only when issued")
            // A name as `wick elastic connect` gives one, with a '/': revoked by its percent-encoded name.
            #expect(try await send(base, "api/v1/keys", method: "POST", headers: auth, body: #"{"name":"kibana h:5601/wick"}"#).status == 201)
            #expect(try await send(base, "api/v1/keys/kibana%20h%3A5601%2Fwick", method: "DELETE", headers: auth).status == 200)
            let badName = try await send(base, "api/v1/keys", method: "POST", headers: auth, body: #"{"name":" "}"#)
            #expect(badName.status == 400 && badName.error["param"] == "name")
            let wrongType = try await send(base, "api/v1/keys", method: "POST", headers: auth, body: #"{"name":7}"#)
            #expect(wrongType.status == 400 && wrongType.error["param"] == "name")
            let missing = try await send(base, "api/v1/keys/nothing", method: "DELETE", headers: auth)
            #expect(missing.status == 404 && missing.error["code"] == "key_not_found")
            // The last one revoked: open again.
            #expect(try await send(base, "api/v1/keys/laptop", method: "DELETE", headers: auth).status == 200)
            #expect(try await send(base, "v1/models").status == 200 && store.entries().isEmpty)
        }
    }

    @Test func unknownRoutesMethodsAndBigBodiesAreOpenAIErrors() async throws {
        let auth = ["Authorization": "Bearer secret"]
        try await withServer { base in
            let unknown = try await send(base, "v1/nothing", headers: auth)
            #expect(unknown.status == 404 && unknown.error["type"] == "invalid_request_error")
            let wrongMethod = try await send(base, "v1/chat/completions", headers: auth)
            #expect([404, 405].contains(wrongMethod.status) && wrongMethod.error["message"] != nil)
            let big = try await send(base, "v1/chat/completions", method: "POST", headers: auth, body: String(repeating: "x", count: 5000))
            #expect(big.status == 413 && big.error["code"] == "request_too_large")
            let noModel = try await send(base, "v1/embeddings", method: "POST", headers: auth, body: #"{"input":"x"}"#)
            #expect(noModel.status == 404 && noModel.error["code"] == "model_not_found" && noModel.error["message"]?.hasPrefix("No model is loaded.") == true)
            let unknownModel = try await send(base, "v1/chat/completions", method: "POST", headers: auth,
                                              body: #"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#)
            #expect(unknownModel.status == 404 && unknownModel.error["param"] == "model" && unknownModel.error["message"]?.contains("'gpt-4o' does not exist") == true)
            let badLoad = try await send(base, "api/v1/models/load", method: "POST", headers: auth, body: #"{"model":"x","context_length":1e20}"#)
            #expect(badLoad.status == 400 && badLoad.error["param"] == "context_length")
            let unloadNothing = try await send(base, "api/v1/models/unload", method: "POST", headers: auth, body: #"{"instance_id":"nope"}"#)
            #expect(unloadNothing.status == 404)
            let noKey = try await send(base, "api/v1/status")
            #expect(noKey.status == 401)
        }
    }

    /// The native API refuses every malformed request with an OpenAI-format error naming the field.
    @Test func bodiesThatAreNotUTF8OrDeclaredTooLargeAreRefused() async throws {
        try await withServer(keys: []) { base in
            var request = URLRequest(url: base.appendingPathComponent("v1/chat/completions"))
            request.httpMethod = "POST"
            request.httpBody = Data([0x7B, 0x22, 0x6D, 0x22, 0x3A, 0x22, 0xFF, 0xFE, 0x22, 0x7D])  // {"m":"\xFF\xFE"}
            let (data, response) = try await URLSession.shared.data(for: request)
            let reply = Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, headers: [:], body: data)
            #expect(reply.status == 400 && reply.error["code"] == "invalid_encoding")

            // Refused from the header alone: the body is never sent, the connection is closed.
            let raw = try await RawHTTP.exchange(port: base.port ?? 0, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n{")
            #expect(raw.hasPrefix("HTTP/1.1 413") && raw.lowercased().contains("connection: close") && raw.contains(#""code":"request_too_large""#))
        }
    }

    @Test func malformedHTTPGetsAJSONErrorAndOversizedHeadersA431() async throws {
        try await withServer(keys: []) { base in
            let garbage = try await RawHTTP.exchange(port: base.port ?? 0, "NOT HTTP AT ALL\r\n\r\n")
            #expect(garbage.hasPrefix("HTTP/1.1 400") && garbage.contains(#""code":"malformed_request""#))
            let badLength = try await RawHTTP.exchange(port: base.port ?? 0, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n")
            #expect(badLength.hasPrefix("HTTP/1.1 400") && badLength.contains(#""type":"invalid_request_error""#))
            let big = try await RawHTTP.exchange(port: base.port ?? 0, "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 100_000))\r\n\r\n")
            #expect(big.hasPrefix("HTTP/1.1 431") && big.contains(#""code":"headers_too_large""#))
            // The server goes on serving.
            #expect(try await send(base, "health").status == 200)
        }
    }

    @Test func aKeyOverItsRateGets429WithRetryAfter() async throws {
        try await withServer(rateLimit: 3) { base in
            for _ in 0..<3 { #expect(try await send(base, "v1/models", headers: ["Authorization": "Bearer secret"]).status == 200) }
            let limited = try await send(base, "v1/models", headers: ["Authorization": "Bearer secret"])
            #expect(limited.status == 429 && limited.error["code"] == "rate_limit_exceeded" && Int(limited.header("Retry-After") ?? "") ?? 0 >= 1)
            // Another key has its own allowance; /health is never limited.
            #expect(try await send(base, "v1/models", headers: ["Authorization": "Bearer other"]).status == 200)
            #expect(try await send(base, "health").status == 200)
        }
    }

    @Test func nativeAPIBadRequestsAreClearErrors() async throws {
        let auth = ["Authorization": "Bearer secret"]
        try await withServer { base in
            let cases: [(String, String, Int, String?)] = [
                ("api/v1/models/load", "not json", 400, nil),
                ("api/v1/models/load", "[]", 400, nil),
                ("api/v1/models/load", "{}", 400, "model"),
                ("api/v1/models/load", #"{"model":7}"#, 400, "model"),
                ("api/v1/models/load", #"{"model":"x","ttl":0}"#, 400, "ttl"),
                ("api/v1/models/load", #"{"model":"x","estimate_only":"yes"}"#, 400, "estimate_only"),
                ("api/v1/models/load", #"{"model":"x","parallel":0}"#, 400, "parallel"),
                ("api/v1/models/load", #"{"model":"x","parallel":65}"#, 400, "parallel"),
                ("api/v1/models/load", #"{"model":"x","kv_cache_type":"q4_0"}"#, 400, "kv_cache_type"),
                ("api/v1/models/load", #"{"model":"x","kv_cache_type":8}"#, 400, "kv_cache_type"),
                ("api/v1/models/load", #"{"model":"/no/such/file.gguf"}"#, 404, "model"),
                ("api/v1/models/load", #"{"model":"some-name"}"#, 404, "model"),
                ("api/v1/models/unload", "{}", 400, "instance_id"),
                ("api/v1/models/unload", #"{"all":"yes"}"#, 400, "all"),
                ("api/v1/models/download", #"{"model":"a/b"}"#, 404, nil),
            ]
            for (path, body, status, param) in cases {
                let reply = try await send(base, path, method: "POST", headers: auth, body: body)
                #expect(reply.status == status && reply.error["message"] != nil, "\(path) \(body) → \(reply.status)")
                if let param { #expect(reply.error["param"] == param, "\(path) \(body)") }
            }
            let missingJob = try await send(base, "api/v1/models/download/status/job-x", headers: auth)
            #expect(missingJob.status == 404)
            let status = try await send(base, "api/v1/status", headers: auth)
            let json = try JSONSerialization.jsonObject(with: status.body) as? [String: Any]
            #expect(status.status == 200 && json?["running"] as? Bool == true && (json?["loaded"] as? [String]) == [])
            let all = try await send(base, "api/v1/models/unload", method: "POST", headers: auth, body: #"{"all":true}"#)
            #expect(all.status == 200)
        }
    }

    @Test func corsPreflightAllowsPrivateNetworks() async throws {
        try await withServer(cors: true) { base in
            let r = try await send(base, "v1/chat/completions", method: "OPTIONS",
                                   headers: ["Origin": "http://kibana.local:5601", "Access-Control-Request-Method": "POST"])
            #expect(r.status == 204)
            #expect(r.header("Access-Control-Allow-Origin") == "http://kibana.local:5601")
            #expect(r.header("Access-Control-Allow-Private-Network") == "true")
        }
    }
}
