import Synchronization

/// A loaded model's requests waiting or running, and when one last ended: what `ModelHost`'s idle
/// TTL and `wick ps` read. Shared by the model and its scheduler.
final class ModelActivity: Sendable {
    private let inFlight = Atomic<Int>(0)
    private let lastUsedAt = Mutex(ContinuousClock.now)

    var active: Int { inFlight.load(ordering: .relaxed) }
    var lastUsed: ContinuousClock.Instant { lastUsedAt.withLock { $0 } }

    func began() { inFlight.add(1, ordering: .relaxed) }

    func ended() {
        lastUsedAt.withLock { $0 = .now }
        inFlight.subtract(1, ordering: .relaxed)
    }
}
