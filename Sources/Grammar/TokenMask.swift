/// A set of token ids as bits: the tokens a grammar allows next.
public struct TokenMask: Sendable {
    private(set) var words: [UInt64]
    public let count: Int

    public init(count: Int) {
        self.count = count
        words = [UInt64](repeating: 0, count: (count + 63) / 64)
    }

    public mutating func removeAll() {
        for i in words.indices { words[i] = 0 }
    }

    /// Becomes `other` (of the same count), without allocating.
    public mutating func assign(_ other: TokenMask) {
        precondition(other.count == count)
        for i in words.indices { words[i] = other.words[i] }
    }

    public mutating func insert(_ id: Int32) {
        guard id >= 0, Int(id) < count else { return }
        words[Int(id) >> 6] |= 1 << UInt64(id & 63)
    }

    public mutating func remove(_ id: Int32) {
        guard id >= 0, Int(id) < count else { return }
        words[Int(id) >> 6] &= ~(1 << UInt64(id & 63))
    }

    /// Keeps only the tokens `other` (of the same count) holds too.
    public mutating func formIntersection(_ other: TokenMask) {
        precondition(other.count == count)
        for i in words.indices { words[i] &= other.words[i] }
    }

    public func contains(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < count && words[Int(id) >> 6] & (1 << UInt64(id & 63)) != 0
    }

    public var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

    /// Sets the logits of the tokens outside the mask to −∞.
    public func apply(to logits: inout [Float]) {
        logits.withUnsafeMutableBufferPointer { l in
            for w in 0..<min(words.count, (l.count + 63) / 64) {
                let word = words[w]
                guard word != .max else { continue }
                for bit in 0..<min(64, l.count - w * 64) where word & (1 << UInt64(bit)) == 0 { l[w * 64 + bit] = -.infinity }
            }
        }
    }
}
