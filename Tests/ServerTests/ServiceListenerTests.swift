#if canImport(Glibc)
import Glibc
#endif
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
@testable import Server

/// The running server moved between this machine and the local network, and CORS turned on and
/// off, through `PUT /api/v1/server`: on the same port, the service answering throughout.
@Suite(.serialized) struct ServiceListenerTests {
    /// This machine's first IPv4 address that is not loopback, if it has one.
    static func networkAddress() -> String? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return nil }
        defer { freeifaddrs(list) }
        var entry = list
        while let e = entry {
            defer { entry = e.pointee.ifa_next }
            guard let address = e.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) else { continue }
            var name = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            guard getnameinfo(address, socklen_t(MemoryLayout<sockaddr_in>.size), &name, socklen_t(name.count), nil, 0, NI_NUMERICHOST) == 0 else { continue }
            let text = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !text.hasPrefix("127.") { return text }
        }
        return nil
    }

    /// A status code, or nil when nothing answers there. One connection per request: the listener that
    /// answered the last one may be the one that has since stopped.
    static func status(_ url: String, method: String = "GET", headers: [String: String] = [:], body: String? = nil) async -> (Int, [String: Any])? {
        var request = URLRequest(url: URL(string: url)!, timeoutInterval: 5)
        request.httpMethod = method
        request.setValue("close", forHTTPHeaderField: "Connection")
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        request.httpBody = body.map { Data($0.utf8) }
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        guard let (data, response) = try? await session.data(for: request), let http = response as? HTTPURLResponse else { return nil }
        var fields = ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any]) ?? [:]
        if let origin = http.value(forHTTPHeaderField: "Access-Control-Allow-Origin") { fields["allow-origin"] = origin }
        return (http.statusCode, fields)
    }

    /// A socket listening on `host:port`, standing in for another program holding that address.
    static func occupy(_ host: String, _ port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var on: Int32 = 1  // the earlier requests' connections to that address wait out TIME_WAIT
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 1) == 0 else { close(fd); return nil }
        return fd
    }

    @Test func theListenerMovesWhileTheServerRuns() async throws {
        var configuration = WickServer.Configuration()
        configuration.port = 0
        let server = WickServer(host: ModelHost(queue: InferenceQueue(threads: 1, maxQueued: 4), store: nil), configuration: configuration)
        let (bindings, announce) = AsyncStream<(String, Int)>.makeStream()
        let running = Task { try await server.run { host, port in announce.yield((host, port)) } }
        defer { running.cancel() }
        var announced = bindings.makeAsyncIterator()
        let (firstHost, port) = try #require(await announced.next())
        #expect(firstHost == "127.0.0.1" && port > 0)
        let local = "http://127.0.0.1:\(port)"
        let lan = Self.networkAddress().map { "http://\($0):\(port)" }
        let status = try #require(await Self.status(local + "/api/v1/status"))
        #expect(status.1["bind"] as? String == "127.0.0.1" && status.1["cors"] as? Bool == false)
        if let lan { #expect(await Self.status(lan + "/health") == nil, "this machine only: nothing answers on \(lan)") }

        let moved = try #require(await Self.status(local + "/api/v1/server", method: "PUT", body: #"{"local_network":true,"cors":true}"#))
        #expect(moved.0 == 200 && moved.1["bind"] as? String == "0.0.0.0" && moved.1["port"] as? Int == port && moved.1["cors"] as? Bool == true)
        #expect(await announced.next()! == ("0.0.0.0", port))
        let preflight = await Self.status(local + "/v1/chat/completions", method: "OPTIONS", headers: ["Origin": "http://kibana.local:5601"])
        #expect(preflight?.0 == 204 && preflight?.1["allow-origin"] as? String == "http://kibana.local:5601")
        if let lan { #expect(await Self.status(lan + "/health")?.0 == 200) }

        let back = try #require(await Self.status(local + "/api/v1/server", method: "PUT", body: #"{"local_network":false}"#))
        #expect(back.0 == 200 && back.1["bind"] as? String == "127.0.0.1" && back.1["cors"] as? Bool == true)
        if let lan { #expect(await Self.status(lan + "/health") == nil) }
        let wrongType = await Self.status(local + "/api/v1/server", method: "PUT", body: #"{"cors":"yes"}"#)
        #expect(wrongType?.0 == 400)

        // Another program holds the port on the network address: the move fails and this machine is served still.
        if let address = Self.networkAddress(), let held = Self.occupy(address, port) {
            defer { close(held) }
            let refused = try #require(await Self.status(local + "/api/v1/server", method: "PUT", body: #"{"local_network":true}"#))
            let error = refused.1["error"] as? [String: Any]
            #expect(refused.0 == 409 && error?["code"] as? String == "address_unavailable")
            #expect((error?["message"] as? String)?.contains("in use by another program") == true)
            #expect(await Self.status(local + "/api/v1/status")?.1["bind"] as? String == "127.0.0.1")
        }
    }
}
