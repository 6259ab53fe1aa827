import Synchronization

/// Where the service listens and whether it answers other web origins: what the status shows and
/// what `PUT /api/v1/server` changes while the service runs. `ServiceListener` serves it and carries
/// out each change.
final class ListenerSettings: Sendable {
    struct Setting: Sendable, Equatable {
        var host: String
        var port: Int
        var cors: Bool
    }

    enum ChangeError: Error, CustomStringConvertible {
        case notServing
        case addressInUse(host: String, port: Int)

        var description: String {
            switch self {
            case .notServing: "the server is not serving"
            case .addressInUse(let host, let port): "\(host):\(port) is in use by another program"
            }
        }
    }

    struct Change: Sendable {
        let setting: Setting
        let reply: CheckedContinuation<Setting, any Error>
    }

    private let current: Mutex<Setting>
    private let serving = Atomic<Bool>(false)
    let changes: AsyncStream<Change>
    private let requests: AsyncStream<Change>.Continuation

    init(_ setting: Setting) {
        current = Mutex(setting)
        (changes, requests) = AsyncStream.makeStream()
    }

    /// What is served now (its port the bound one once it listens).
    var setting: Setting { current.withLock { $0 } }

    /// Serves `setting` instead (the port stays); returns once it listens, or throws why it could not.
    func change(to setting: Setting) async throws -> Setting {
        guard serving.load(ordering: .relaxed) else { throw ChangeError.notServing }
        return try await withCheckedThrowingContinuation { reply in
            if case .terminated = requests.yield(Change(setting: setting, reply: reply)) { reply.resume(throwing: ChangeError.notServing) }
        }
    }

    // What `ServiceListener` records.
    func served(_ setting: Setting) { current.withLock { $0 = setting } }
    func startServing() { serving.store(true, ordering: .relaxed) }
    func stopServing() {
        serving.store(false, ordering: .relaxed)
        requests.finish()
    }
}
