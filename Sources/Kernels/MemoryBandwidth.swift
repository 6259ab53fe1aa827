/// The machine's streaming read bandwidth, measured on a pool's threads: the ceiling of any work
/// whose time goes to reading memory once (generating a token reads every weight it uses once).
public enum MemoryBandwidth {
    /// Bytes per second that all of `pool`'s threads read together from a buffer far beyond the
    /// last-level cache, each its own contiguous part: the best of `repetitions` passes.
    public static func read(pool: ThreadPool, bytes: Int = 512 << 20, repetitions: Int = 5) -> Double {
        let vectors = bytes / 32
        let buffer = UnsafeMutablePointer<SIMD4<UInt64>>.allocate(capacity: vectors)
        defer { buffer.deallocate() }
        // Writing every page first: a pass then reads memory, not fresh zero pages.
        buffer.initialize(repeating: SIMD4(repeating: 1), count: vectors)
        // Each thread's folded result is stored, so the reads cannot be left out.
        let sinks = UnsafeMutablePointer<SIMD4<UInt64>>.allocate(capacity: pool.count)
        defer { sinks.deallocate() }
        var best = 0.0
        for _ in 0..<max(repetitions, 1) {
            let start = monotonicNanoseconds()
            pool.parallelFor(vectors, granule: 1024) { range, thread in
                var a = (SIMD4<UInt64>(), SIMD4<UInt64>(), SIMD4<UInt64>(), SIMD4<UInt64>())
                var i = range.lowerBound
                while i + 4 <= range.upperBound {
                    a.0 ^= buffer[i]
                    a.1 ^= buffer[i + 1]
                    a.2 ^= buffer[i + 2]
                    a.3 ^= buffer[i + 3]
                    i += 4
                }
                sinks[thread] = a.0 ^ a.1 ^ a.2 ^ a.3
            }
            let seconds = Double(monotonicNanoseconds() - start) / 1e9
            best = max(best, Double(vectors / 4 * 4 * 32) / seconds)
        }
        return best
    }
}
