import Synchronization
import Templates

/// The conversations of recent Responses API answers, in memory, so that a request's
/// `previous_response_id` continues one (and `GET /v1/responses/{id}` finds it): at most `capacity` of them, each for `lifetime`.
final class ResponseStore: Sendable {
    private struct Entry {
        var messages: [Value]
        var response: Value
        var expires: ContinuousClock.Instant
    }

    let capacity: Int
    let lifetime: Duration
    private let entries = Mutex<[String: Entry]>([:])

    init(capacity: Int = 512, lifetime: Duration = .seconds(3600)) {
        self.capacity = capacity
        self.lifetime = lifetime
    }

    /// Keeps a response and its whole conversation (its input, after what it continued, and its reply).
    func keep(_ id: String, response: Value, messages: [Value]) {
        let now = ContinuousClock.now
        entries.withLock { entries in
            entries = entries.filter { $0.value.expires > now }
            // Full: the one that expires first (the oldest) makes room.
            if entries.count >= capacity, let oldest = entries.min(by: { $0.value.expires < $1.value.expires })?.key {
                entries[oldest] = nil
            }
            entries[id] = Entry(messages: messages, response: response, expires: now + lifetime)
        }
    }

    /// The conversation up to and including a kept response, or nil if it is unknown or expired.
    func messages(_ id: String) -> [Value]? {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            guard let entry = entries[id], entry.expires > now else { return nil }
            return entry.messages
        }
    }

    /// A kept response as it was answered.
    func response(_ id: String) -> Value? {
        let now = ContinuousClock.now
        return entries.withLock { entries in entries[id].flatMap { $0.expires > now ? $0.response : nil } }
    }

    /// Forgets a response; whether it was kept.
    func remove(_ id: String) -> Bool {
        entries.withLock { $0.removeValue(forKey: id) != nil }
    }
}
