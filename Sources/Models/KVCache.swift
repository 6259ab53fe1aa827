/// Keys and values of every layer for the positions seen so far, in half precision (as llama.cpp's
/// default f16 cache). A session keeps its cache between calls; truncating it to a prefix lets the
/// next request reuse the shared beginning of a conversation.
public final class KVCache: @unchecked Sendable {
    public let capacity: Int
    let layers: Int
    let kvDim: Int
    let keys: UnsafeMutablePointer<Float16>
    let values: UnsafeMutablePointer<Float16>
    /// Per worker thread: `scoreRows` rows of `capacity` attention scores, and a block of keys or
    /// values widened to f32 (`blockBytes`).
    let scoreRows: Int
    let scores: UnsafeMutablePointer<Float>
    let blockFloats: Int
    let blocks: UnsafeMutablePointer<Float>
    /// Positions filled so far.
    public private(set) var count = 0

    init(layers: Int, kvDim: Int, capacity: Int, threads: Int, scoreRows: Int, blockBytes: Int) {
        self.capacity = capacity
        self.layers = layers
        self.kvDim = kvDim
        keys = .allocate(capacity: layers * capacity * kvDim)
        values = .allocate(capacity: layers * capacity * kvDim)
        self.scoreRows = scoreRows
        scores = .allocate(capacity: threads * scoreRows * capacity)
        blockFloats = blockBytes / 4
        blocks = .allocate(capacity: threads * blockFloats)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
        scores.deallocate()
        blocks.deallocate()
    }

    @inline(__always) func key(layer: Int, position: Int) -> UnsafeMutablePointer<Float16> {
        keys + (layer * capacity + position) * kvDim
    }

    @inline(__always) func value(layer: Int, position: Int) -> UnsafeMutablePointer<Float16> {
        values + (layer * capacity + position) * kvDim
    }

    /// Forgets every position from `length` on.
    public func truncate(to length: Int) {
        count = min(count, max(0, length))
    }

    func advance(by n: Int) { count += n }

    /// Bytes held by keys and values.
    public var byteCount: Int { 2 * layers * capacity * kvDim * MemoryLayout<Float16>.size }
}
