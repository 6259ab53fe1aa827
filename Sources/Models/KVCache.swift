/// One sequence's keys and values: a table of pages in a `KVPagePool` and the tokens they hold.
/// Pages filled to the end are registered in the pool's prefix index, so another sequence with the
/// same beginning takes them instead of computing them (`reuse`, `share`); a page this sequence did
/// not compute alone is copied before it is written (copy-on-write).
public final class KVCache: @unchecked Sendable {
    public let pool: KVPagePool
    /// The most positions this sequence may hold.
    public let capacity: Int
    public private(set) var tokens: [Int32] = []
    /// Chain hash of each full page (registered or not: the next page's lookups start from it).
    private var hashes: [UInt64] = []
    private let pages: UnsafeMutablePointer<Int32>
    private var pageCount = 0
    private let keys: UnsafeMutableRawPointer
    private let values: UnsafeMutableRawPointer
    private let pageStride: Int
    private let layerStride: Int
    let rowBytes: Int
    let type: KVCacheType
    private static let shift = KVPagePool.pageSize.trailingZeroBitCount
    private static let mask = KVPagePool.pageSize - 1

    public init(pool: KVPagePool, capacity: Int) {
        precondition(capacity > 0 && capacity <= pool.pageCount * KVPagePool.pageSize)
        self.pool = pool
        self.capacity = capacity
        pages = .allocate(capacity: (capacity + KVPagePool.pageSize - 1) / KVPagePool.pageSize)
        keys = pool.keys
        values = pool.values
        pageStride = pool.pageStride
        layerStride = pool.layerStride
        rowBytes = pool.rowBytes
        type = pool.type
    }

    deinit {
        truncate(to: 0)
        pages.deallocate()
    }

    /// Positions filled so far.
    public var count: Int { tokens.count }

    /// The row of keys (or values) of a layer at a position, stored as `type` says.
    @inline(__always) func key(layer: Int, position: Int) -> UnsafeMutableRawPointer {
        keys + offset(layer: layer, position: position)
    }

    @inline(__always) func value(layer: Int, position: Int) -> UnsafeMutableRawPointer {
        values + offset(layer: layer, position: position)
    }

    @inline(__always) private func offset(layer: Int, position: Int) -> Int {
        Int(pages[position >> Self.shift]) * pageStride + layer * layerStride + (position & Self.mask) * rowBytes
    }

    /// Makes room to write the next `n` positions: pages for them, and the page where writing
    /// begins made this sequence's own (copied when it is shared or registered). False when the
    /// pool has no page left or the sequence would pass its capacity.
    public func reserve(_ n: Int) -> Bool {
        guard count + n <= capacity else { return false }
        let filled = count & Self.mask
        if filled != 0 {
            let tail = pages[count >> Self.shift]
            if !pool.isPrivate(tail) {
                guard let own = pool.allocate() else { return false }
                pool.copy(tail, to: own, rows: filled)
                pool.release(tail)
                pages[count >> Self.shift] = own
            }
        }
        let needed = (count + n + Self.mask) >> Self.shift
        while pageCount < needed {
            guard let page = pool.allocate() else { return false }
            pages[pageCount] = page
            pageCount += 1
        }
        return true
    }

    /// Records `new` as written at the next positions (after `reserve` and the forward step) and
    /// registers the pages they fill.
    func append(_ new: ArraySlice<Int32>) {
        tokens += new
        while hashes.count < count >> Self.shift {
            let f = hashes.count, parent = f == 0 ? PageHash.root : hashes[f - 1]
            let size = KVPagePool.pageSize
            hashes.append(pool.register(pages[f], parent: parent, tokens: tokens[(f * size)..<((f + 1) * size)]))
        }
    }

    /// Forgets every position from `length` on (pages past it go back to the pool).
    public func truncate(to length: Int) {
        let length = min(count, max(0, length))
        let keep = (length + Self.mask) >> Self.shift
        while pageCount > keep {
            pageCount -= 1
            pool.release(pages[pageCount])
        }
        tokens.removeLast(count - length)
        hashes.removeLast(hashes.count - (length >> Self.shift))
    }

    /// Makes the cache hold the longest beginning of `prompt` (at most `limit` tokens) it can
    /// without computing: what it already holds, then registered pages of the prefix index, then
    /// pages `disk` kept. Returns how many tokens it holds.
    @discardableResult
    public func reuse(_ prompt: [Int32], limit: Int, disk: PrefixDiskCache? = nil) -> Int {
        var common = 0
        let bound = min(limit, prompt.count, count)
        while common < bound && prompt[common] == tokens[common] { common += 1 }
        truncate(to: common)
        let size = KVPagePool.pageSize
        while count & Self.mask == 0 && count + size <= min(limit, prompt.count) {
            let parent = hashes.last ?? PageHash.root
            let next = prompt[count..<(count + size)]
            guard let (page, hash) = pool.lookup(parent: parent, tokens: next) ?? disk?.load(parent: parent, tokens: next, into: pool) else { break }
            pages[pageCount] = page
            pageCount += 1
            tokens += next
            hashes.append(hash)
        }
        return count
    }

    /// Makes an empty cache hold the first `length` positions of `other`: its full pages shared, the
    /// rest copied into a page of this cache's own. Returns how many positions it holds (fewer when
    /// no page is left for the copy).
    @discardableResult
    public func share(_ other: KVCache, length: Int) -> Int {
        precondition(count == 0 && other.pool === pool && length <= other.count && length <= capacity)
        let full = length >> Self.shift
        for f in 0..<full {
            pool.retain(other.pages[f])
            pages[f] = other.pages[f]
        }
        pageCount = full
        hashes = Array(other.hashes[..<full])
        var held = full << Self.shift
        if length > held, let own = pool.allocate() {
            pool.copy(other.pages[full], to: own, rows: length - held)
            pages[pageCount] = own
            pageCount += 1
            held = length
        }
        tokens = Array(other.tokens[..<held])
        return held
    }

    /// Each full page and its chain hash, from the start.
    var fullPages: [(page: Int32, hash: UInt64)] { hashes.indices.map { (pages[$0], hashes[$0]) } }

    /// Bytes this sequence's pages hold (shared pages counted in full).
    public var byteCount: Int { pageCount * pool.byteCount / pool.pageCount }
}
