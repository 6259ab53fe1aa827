import Synchronization

/// The keys given to the service (its key file, the environment) as SHA-256 digests, replaceable
/// while it serves: SIGHUP reads the key file again.
public final class ServiceKeys: Sendable {
    private let current: Mutex<[[UInt8]]>

    public init(_ keys: [String]) {
        current = Mutex(keys.map(AuthMiddleware<WickRequestContext>.digest))
    }

    public func replace(with keys: [String]) {
        let digests = keys.map(AuthMiddleware<WickRequestContext>.digest)
        current.withLock { $0 = digests }
    }

    var digests: [[UInt8]] { current.withLock { $0 } }
}
