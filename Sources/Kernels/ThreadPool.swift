#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A persistent pool of worker threads for the hot path. `run` hands the same body to every
/// thread (the caller takes part as thread 0) and returns when all are done. Workers spin briefly
/// for the next job, then sleep; no allocation and no Swift concurrency machinery per call.
public final class ThreadPool: @unchecked Sendable {
    public let count: Int
    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private var job: UnsafeRawPointer?
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var threads: [pthread_t] = []
    private let stopping = Atomic<Bool>(false)

    public static func defaultThreadCount() -> Int {
        Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }

    public init(threads: Int = ThreadPool.defaultThreadCount()) {
        count = max(1, threads)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
        for index in 1..<count {
            let context = Unmanaged.passRetained(WorkerContext(pool: self, index: index)).toOpaque()
            var thread = pthread_t()
            pthread_create(&thread, nil, { raw in
                let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
                context.pool.workerLoop(index: context.index)
                return nil
            }, context)
            self.threads.append(thread)
        }
    }

    deinit {
        stopping.store(true, ordering: .releasing)
        pthread_mutex_lock(&mutex)
        generation.add(1, ordering: .releasing)
        pthread_cond_broadcast(&wake)
        pthread_mutex_unlock(&mutex)
        for t in threads { pthread_join(t, nil) }
    }

    private final class WorkerContext {
        // Not `unowned`: a pool released right after it was made would trap a worker that starts only
        // once `deinit` has begun. The memory stays valid until `deinit` has joined every worker.
        unowned(unsafe) let pool: ThreadPool
        let index: Int
        init(pool: ThreadPool, index: Int) { self.pool = pool; self.index = index }
    }

    private typealias Body = (Int) -> Void

    /// Runs `body(threadIndex)` on every thread of the pool and waits for all of them.
    public func run(_ body: (Int) -> Void) {
        if count == 1 { body(0); return }
        withoutActuallyEscaping(body) { escaping in
            withUnsafePointer(to: escaping) { ptr in
                job = UnsafeRawPointer(ptr)
                pending.store(count - 1, ordering: .relaxed)
                generation.add(1, ordering: .releasing)
                if sleepers.load(ordering: .acquiring) > 0 {
                    pthread_mutex_lock(&mutex)
                    pthread_cond_broadcast(&wake)
                    pthread_mutex_unlock(&mutex)
                }
                escaping(0)
                while pending.load(ordering: .acquiring) > 0 { spinPause() }
                job = nil
            }
        }
    }

    /// Splits `0..<total` into one contiguous range per thread (multiples of `granule`).
    public func parallelFor(_ total: Int, granule: Int = 1, _ body: (Range<Int>) -> Void) {
        parallelFor(total, granule: granule) { range, _ in body(range) }
    }

    /// The same, also telling each body which thread (0..<count) runs it.
    public func parallelFor(_ total: Int, granule: Int = 1, _ body: (Range<Int>, Int) -> Void) {
        let units = (total + granule - 1) / granule
        if count == 1 || units <= 1 { body(0..<total, 0); return }
        run { t in
            let start = units * t / count * granule
            let end = min(units * (t + 1) / count * granule, total)
            if start < end { body(start..<end, t) }
        }
    }

    /// How long a worker spins for the next job before it sleeps: longer than the gaps between a
    /// step's parallel sections and between generation steps (a wake-up costs a system call on the
    /// step's critical path), short enough that an idle pool stops using the CPU at once. Counted in
    /// time, not iterations: how fast an empty loop runs depends on how the compiler lays it out.
    static let spinNanoseconds: UInt64 = 500_000

    private func workerLoop(index: Int) {
        var seen = 0
        while true {
            var spins = 0, spinStart: UInt64 = 0
            var current = generation.load(ordering: .acquiring)
            while current == seen {
                // The clock is read every 64 spins; the first reading starts the budget.
                if spins & 63 != 0 || spins == 0 || monotonicNanoseconds() - spinStart < Self.spinNanoseconds {
                    if spins == 0 { spinStart = monotonicNanoseconds() }
                    spinPause()
                    spins += 1
                } else {
                    pthread_mutex_lock(&mutex)
                    sleepers.add(1, ordering: .relaxed)
                    while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(&wake, &mutex) }
                    sleepers.subtract(1, ordering: .relaxed)
                    pthread_mutex_unlock(&mutex)
                }
                current = generation.load(ordering: .acquiring)
            }
            seen = current
            if stopping.load(ordering: .acquiring) { return }
            // The body's copy must be released before reporting completion: `run` checks that
            // the non-escaping closure did not outlive it.
            do {
                let body = job!.assumingMemoryBound(to: Body.self).pointee
                body(index)
            }
            pending.subtract(1, ordering: .releasing)
        }
    }
}

@inline(__always) func spinPause() {
    #if arch(x86_64)
    // The x86 PAUSE instruction is not exposed to Swift without intrinsics; a compiler barrier
    // keeps the loop from being folded while staying portable.
    _ = 0
    #endif
}

/// Nanoseconds on the monotonic clock.
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}
