import Dispatch
import Kernels
import Synchronization

/// The process's one lane for inference: every loaded model computes on the same worker threads,
/// one step at a time, in arrival order (two models on separate pools would fight over the cores);
/// each model's `BatchScheduler` puts its steps here.
/// A bounded number of requests may wait; past that, new ones are refused with 503.
public final class InferenceQueue: Sendable {
    let dispatch = DispatchQueue(label: "wick.inference")
    public let pool: ThreadPool
    public let maxQueued: Int
    private let waiting = Mutex(0)

    public init(threads: Int, maxQueued: Int) {
        pool = ThreadPool(threads: threads)
        self.maxQueued = maxQueued
    }

    /// Requests waiting or running.
    public var queued: Int { waiting.withLock { $0 } }

    /// Takes a place, or refuses with 503 when every place is taken.
    func admit() throws {
        let admitted = waiting.withLock { count -> Bool in
            guard count < maxQueued else { return false }
            count += 1
            return true
        }
        guard admitted else {
            var busy = APIError(status: 503, message: "The server is busy: \(maxQueued) requests are already waiting. Retry shortly.",
                                type: "server_error", code: "queue_full")
            busy.retryAfter = 1
            throw busy
        }
    }

    /// Frees a place taken by `admit`.
    func finished() {
        waiting.withLock { $0 -= 1 }
    }

    /// Runs admitted work on the inference lane; its place is freed when it ends.
    func run(_ work: @escaping @Sendable () -> Void) {
        dispatch.async { [self] in
            defer { finished() }
            work()
        }
    }
}
