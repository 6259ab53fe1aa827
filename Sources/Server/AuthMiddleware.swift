#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HTTPTypes
import Hummingbird
import ModelStore
import Synchronization

/// `Authorization: Bearer <key>` (or `x-api-key: <key>`) on /v1, /api and /metrics when keys are configured or issued; `/health`
/// and `/ready` stay open. Keys are held as SHA-256 digests only and compared in full, every one, so timing does
/// not reveal how much of a key matched. With a `RateLimiter`, each key's API requests are counted
/// against its allowance (one allowance for everyone when no key is required); over it: 429.
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let keys: ServiceKeys
    let issued: IssuedKeys?
    let localToken: [UInt8]?
    let rateLimiter: RateLimiter?

    init(keys: ServiceKeys, issued: IssuedKeys?, localToken: String?, rateLimiter: RateLimiter? = nil) {
        self.keys = keys
        self.issued = issued
        self.localToken = localToken.map(Self.digest)
        self.rateLimiter = rateLimiter
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard path.hasPrefix("/v1") || path.hasPrefix("/api/") || path == "/metrics", request.method != .options else { return try await next(request, context) }
        let accepted = keys.digests + (issued?.digests() ?? [])
        var caller: [UInt8] = []
        if !accepted.isEmpty {
            // Anthropic's clients send their key as `x-api-key`.
            let header = request.headers[.authorization] ?? ""
            let given = Self.digest(header.hasPrefix("Bearer ") ? String(header.dropFirst(7)) : request.headers[HTTPField.Name("x-api-key")!] ?? "")
            var matched = false
            for key in accepted + (localToken.map { [$0] } ?? []) { matched = Self.constantTimeEqual(key, given) || matched }
            guard matched else { throw APIError.unauthorized }
            caller = given
        }
        if let rateLimiter, path != "/metrics", let wait = rateLimiter.admit(String(decoding: caller, as: UTF8.self)) {
            var error = APIError(status: 429, message: "Rate limit reached: \(rateLimiter.perMinute) requests per minute for this key. Retry after \(wait) s.",
                                 type: "requests", code: "rate_limit_exceeded")
            error.retryAfter = wait
            throw error
        }
        return try await next(request, context)
    }

    /// The key's SHA-256 in hex, as the key store keeps it.
    static func digest(_ key: String) -> [UInt8] { Array(APIKeyStore.digest(key).utf8) }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}

/// The digests of the keys Wick issued, read again from their file when its inode (the store
/// renames a new file into place), modification time or size changes: one `stat` per request.
final class IssuedKeys: Sendable {
    private struct Snapshot {
        var stamp: [Int] = []
        var digests: [[UInt8]] = []
    }

    let file: URL
    private let snapshot = Mutex(Snapshot())

    init(_ file: URL) { self.file = file }

    func digests() -> [[UInt8]] {
        var info = stat()
        let stamp = stat(file.path, &info) == 0 ? [Int(info.st_ino), Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec), Int(info.st_size)] : []
        return snapshot.withLock { current in
            if current.stamp != stamp {
                let entries = stamp.isEmpty ? [] : APIKeyStore(file: file).entries()
                current = Snapshot(stamp: stamp, digests: entries.map { Array($0.sha256.lowercased().utf8) })
            }
            return current.digests
        }
    }
}
