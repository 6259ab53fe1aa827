import Synchronization

/// Keys and values of a model's sequences in fixed pages of `pageSize` positions, stored as `type`
/// says (f16 by default, as llama.cpp's cache). A page holds every layer: layer l's keys are
/// `pageSize` rows of `kvDim` values, so the attention's blocks of 64 positions are one contiguous run.
///
/// Pages are reference-counted by the sequences (`KVCache`) that use them. A full page can be
/// registered under the hash chain of the tokens up to its end: the prefix index. A registered page
/// is never written again; a sequence whose prompt begins with the same tokens takes it instead of
/// computing it, and when no sequence uses it any more it stays cached until its memory is needed
/// (least recently used first).
public final class KVPagePool: @unchecked Sendable {
    public static let pageSize = 64
    public let pageCount: Int
    public let layers: Int
    public let kvDim: Int
    public let type: KVCacheType
    let keys: UnsafeMutableRawPointer
    let values: UnsafeMutableRawPointer
    /// Bytes per row of `kvDim` values, per page (all layers) and per layer within a page.
    let rowBytes: Int
    let pageStride: Int
    let layerStride: Int
    private let state: Mutex<PageState>

    public init(layers: Int, kvDim: Int, pages: Int, type: KVCacheType = .f16) {
        precondition(pages > 0)
        self.layers = layers
        self.kvDim = kvDim
        self.type = type
        pageCount = pages
        rowBytes = type.rowBytes(kvDim)
        layerStride = Self.pageSize * rowBytes
        pageStride = layers * layerStride
        // Untouched pages cost address space only: memory is taken as positions are written.
        keys = .allocate(byteCount: pages * pageStride, alignment: 64)
        values = .allocate(byteCount: pages * pageStride, alignment: 64)
        state = Mutex(PageState(pages: pages))
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// Bytes of keys and values for every page.
    public var byteCount: Int { 2 * pageCount * pageStride }

    /// Pages in use by sequences, cached (registered, unused), and free.
    public struct Usage: Sendable, Equatable {
        public var used: Int
        public var cached: Int
        public var free: Int
    }

    public var usage: Usage { state.withLock { $0.usage } }

    /// A page for a sequence to write (reference count 1): a free one, else the least recently used
    /// cached one (leaving the index). Nil when every page is in use.
    func allocate() -> Int32? { state.withLock { $0.allocate() } }

    func retain(_ page: Int32) { state.withLock { $0.retain(page) } }

    func release(_ page: Int32) { state.withLock { $0.release(page) } }

    /// Whether a sequence may write into `page`: it is its only user and the page is not registered.
    func isPrivate(_ page: Int32) -> Bool { state.withLock { $0.isPrivate(page) } }

    /// Registers the full `page` as holding `tokens` after the prefix whose chain hash is `parent`;
    /// returns the page's chain hash. A page already registered for that prefix keeps its place.
    func register(_ page: Int32, parent: UInt64, tokens: ArraySlice<Int32>) -> UInt64 {
        let hash = PageHash.chain(parent, tokens)
        state.withLock { $0.register(page, hash: hash, tokens: Array(tokens)) }
        return hash
    }

    /// The registered page holding `tokens` after the prefix `parent`, retained for the caller, and
    /// its chain hash.
    func lookup(parent: UInt64, tokens: ArraySlice<Int32>) -> (page: Int32, hash: UInt64)? {
        let hash = PageHash.chain(parent, tokens)
        return state.withLock { s in s.lookup(hash: hash, tokens: tokens).map { ($0, hash) } }
    }

    /// Every layer's keys and values of `page` (`pageStride` bytes each).
    func withPage(_ page: Int32, _ body: (UnsafeMutableRawBufferPointer, UnsafeMutableRawBufferPointer) -> Void) {
        body(UnsafeMutableRawBufferPointer(start: keys + Int(page) * pageStride, count: pageStride),
             UnsafeMutableRawBufferPointer(start: values + Int(page) * pageStride, count: pageStride))
    }

    /// Copies the first `rows` positions of every layer of `source` into `target`.
    func copy(_ source: Int32, to target: Int32, rows: Int) {
        for layer in 0..<layers {
            let from = Int(source) * pageStride + layer * layerStride, to = Int(target) * pageStride + layer * layerStride
            (keys + to).copyMemory(from: keys + from, byteCount: rows * rowBytes)
            (values + to).copyMemory(from: values + from, byteCount: rows * rowBytes)
        }
    }

    /// Reference counts, the free list and the prefix index. Only touched under the pool's lock.
    private struct PageState {
        var references: [Int32]
        var free: [Int32]
        var index: [UInt64: Int32] = [:]
        /// Per page: its chain hash and tokens while registered, and when it was last used.
        var hashes: [UInt64?]
        var tokens: [[Int32]]
        var lastUse: [UInt64]
        var clock: UInt64 = 0

        init(pages: Int) {
            references = Array(repeating: 0, count: pages)
            free = (0..<Int32(pages)).reversed()
            hashes = Array(repeating: nil, count: pages)
            tokens = Array(repeating: [], count: pages)
            lastUse = Array(repeating: 0, count: pages)
        }

        var usage: Usage {
            let used = references.count { $0 > 0 }
            return Usage(used: used, cached: references.count - used - free.count, free: free.count)
        }

        mutating func allocate() -> Int32? {
            if let page = free.popLast() {
                references[Int(page)] = 1
                return page
            }
            // Evict the least recently used registered page nobody uses (pages are few: a scan is enough).
            var victim: Int?
            for p in references.indices where references[p] == 0 && hashes[p] != nil {
                if victim.map({ lastUse[p] < lastUse[$0] }) ?? true { victim = p }
            }
            guard let v = victim, let hash = hashes[v] else { return nil }
            index[hash] = nil
            hashes[v] = nil
            tokens[v] = []
            references[v] = 1
            return Int32(v)
        }

        mutating func retain(_ page: Int32) {
            references[Int(page)] += 1
        }

        mutating func release(_ page: Int32) {
            let p = Int(page)
            references[p] -= 1
            guard references[p] == 0 else { return }
            clock += 1
            lastUse[p] = clock
            if hashes[p] == nil { free.append(page) }
        }

        func isPrivate(_ page: Int32) -> Bool {
            references[Int(page)] == 1 && hashes[Int(page)] == nil
        }

        mutating func register(_ page: Int32, hash: UInt64, tokens pageTokens: [Int32]) {
            guard index[hash] == nil, hashes[Int(page)] == nil else { return }
            index[hash] = page
            hashes[Int(page)] = hash
            tokens[Int(page)] = pageTokens
        }

        mutating func lookup(hash: UInt64, tokens pageTokens: ArraySlice<Int32>) -> Int32? {
            // The tokens are compared too: a hash collision must not hand out another prefix's keys.
            guard let page = index[hash], tokens[Int(page)].elementsEqual(pageTokens) else { return nil }
            references[Int(page)] += 1
            return page
        }
    }
}
