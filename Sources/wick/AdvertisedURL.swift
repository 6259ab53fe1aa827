#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ModelStore

/// The address a remote client (Elasticsearch, Kibana) should call this service at: loopback when
/// the client runs on this machine, else the local address the system routes toward the client,
/// refused with a fix when the service listens on loopback only.
enum AdvertisedURL {
    static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return h == "localhost" || h.hasPrefix("127.") || h == "::1"
    }

    static func base(service: ServiceState, client: URL) throws -> String {
        let target = client.host ?? "localhost"
        func url(_ host: String) -> String { "http://\(host.contains(":") ? "[\(host)]" : host):\(service.port)" }
        if isLoopback(target) { return service.clientBase }
        if isLoopback(service.host) {
            throw CLIError("""
                the Wick service listens on \(service.host) only, which \(target) cannot reach. Serve the \
                network: `wick server stop && wick server start --bind 0.0.0.0`, or "Serve on the local network" in its web \
                interface (this command issues the API key), \
                or pass --wick-url with an address \(target) can reach (e.g. a proxy in front of Wick)
                """)
        }
        if service.host != "0.0.0.0" && service.host != "::" { return url(service.host) }
        guard let local = localAddress(toward: target, port: client.port ?? 9200) else {
            throw CLIError("cannot tell which address of this machine \(target) reaches; pass --wick-url")
        }
        return url(local)
    }

    /// The source address the system would use to reach `host` (a UDP socket connected there sends
    /// nothing but is given a route).
    static func localAddress(toward host: String, port: Int) -> String? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &found) == 0, let info = found else { return nil }
        defer { freeaddrinfo(found) }
        let fd = socket(info.pointee.ai_family, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else { return nil }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { return nil }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        func string() -> String { String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        let family = storage.ss_family
        return withUnsafePointer(to: storage) { pointer -> String? in
            if family == sa_family_t(AF_INET) {
                return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    var address = sin.pointee.sin_addr
                    return inet_ntop(AF_INET, &address, &text, socklen_t(text.count)).map { _ in string() }
                }
            }
            return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                var address = sin6.pointee.sin6_addr
                return inet_ntop(AF_INET6, &address, &text, socklen_t(text.count)).map { _ in string() }
            }
        }
    }
}
