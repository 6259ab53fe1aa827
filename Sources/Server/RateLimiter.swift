import Synchronization

/// Requests per minute per API key: a token bucket per key that holds a minute's allowance and
/// refills evenly, so a burst up to the allowance passes and a steady rate above it gets 429s
/// with the seconds until the next request may go. Keys are the accepted ones (or one bucket for
/// everyone when no key is required), so the buckets stay as few as the keys.
final class RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    let perMinute: Int
    private let buckets = Mutex<[String: Bucket]>([:])

    init(perMinute: Int) {
        self.perMinute = perMinute
    }

    /// Takes one request from `key`'s allowance: nil when it may go, otherwise the whole seconds
    /// to wait before one more may.
    func admit(_ key: String, now: ContinuousClock.Instant = .now) -> Int? {
        let capacity = Double(perMinute), perSecond = Double(perMinute) / 60
        return buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: capacity, updated: now)
            let elapsed = now - bucket.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            bucket.tokens = min(capacity, bucket.tokens + max(0, seconds) * perSecond)
            bucket.updated = now
            defer { buckets[key] = bucket }
            // (The small margin keeps a wait of exactly n seconds, give or take rounding, at n.)
            guard bucket.tokens >= 1 else { return max(1, Int(((1 - bucket.tokens) * 60 / capacity - 1e-9).rounded(.up))) }
            bucket.tokens -= 1
            return nil
        }
    }
}
