#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Whether a port can be bound, checked before a service loads its models so that a port in use
/// is reported at once and in plain words.
enum PortCheck {
    static func ensureFree(host: String, port: Int) throws {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var info: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &info) == 0, let first = info else {
            throw ServiceClient.Failure(description: "cannot bind to \(host): not an address of this machine", answered: false)
        }
        defer { freeaddrinfo(info) }
        let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        if bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) != 0 {
            let reason = errno == EADDRINUSE ? "port \(port) is already in use on \(host)" : "cannot bind \(host):\(port): \(String(cString: strerror(errno)))"
            throw ServiceClient.Failure(description: reason, answered: false)
        }
    }
}
