import Kernels

/// Attention of a step's queries over the cache, with grouped-query heads, causal and sliding-window
/// masks. One token (generation) goes head by head over the f16 cache; a batch (prompt processing)
/// goes in tiles of tokens × the query heads sharing one KV head, so each block of keys and values
/// is widened to f32 once and read by every query in the tile.
extension Transformer {
    /// Tokens per tile and positions per block of the batched path.
    static let attentionTile = 4
    static let attentionBlock = 64

    func attention(layer: Int, tokens n: Int, start: Int, window: Int?, cache: KVCache) {
        if n == 1 { singleTokenAttention(layer: layer, start: start, window: window, cache: cache) }
        else { batchedAttention(layer: layer, tokens: n, start: start, window: window, cache: cache) }
    }

    private func singleTokenAttention(layer: Int, start position: Int, window: Int?, cache: KVCache) {
        let c = config, s = scratch, d = c.headDim, group = c.heads / c.kvHeads
        let first = window.map { max(0, position - $0 + 1) } ?? 0
        pool.parallelFor(c.heads) { range, thread in
            let scores = cache.scores + thread * cache.scoreRows * cache.capacity
            for h in range {
                let q = s.q + h * d
                let kvOffset = (h / group) * d
                var maxScore = -Float.infinity
                for p in first...position {
                    let score = HalfVectors.dot(q, cache.key(layer: layer, position: p) + kvOffset, count: d) * c.attentionScale
                    scores[p] = score
                    maxScore = max(maxScore, score)
                }
                let inv = 1 / VectorOps.expShifted(scores + first, count: position - first + 1, shift: maxScore)
                let out = s.attention + h * d
                for i in 0..<d { out[i] = 0 }
                for p in first...position {
                    HalfVectors.addScaled(out, scores[p] * inv, cache.value(layer: layer, position: p) + kvOffset, count: d)
                }
            }
        }
    }

    private func batchedAttention(layer: Int, tokens n: Int, start: Int, window: Int?, cache: KVCache) {
        let c = config, s = scratch, d = c.headDim, group = c.heads / c.kvHeads
        let qDim = c.heads * d, kvDim = c.kvHeads * d
        let tile = Self.attentionTile, block = Self.attentionBlock
        let tiles = (n + tile - 1) / tile
        pool.parallelFor(tiles * c.kvHeads) { range, thread in
            let scoreRows = cache.scores + thread * cache.scoreRows * cache.capacity
            let widened = cache.blocks + thread * cache.blockFloats
            for job in range {
                let g = job % c.kvHeads, t0 = (job / c.kvHeads) * tile, t1 = min(n, t0 + tile)
                let rows = (t1 - t0) * group
                // Row r is token t0 + r / group, query head g · group + r % group; it sees [first, last].
                @inline(__always) func last(_ r: Int) -> Int { start + t0 + r / group }
                @inline(__always) func first(_ r: Int) -> Int { window.map { max(0, last(r) - $0 + 1) } ?? 0 }
                @inline(__always) func query(_ r: Int) -> UnsafeMutablePointer<Float> { s.q + (t0 + r / group) * qDim + (g * group + r % group) * d }
                @inline(__always) func output(_ r: Int) -> UnsafeMutablePointer<Float> { s.attention + (t0 + r / group) * qDim + (g * group + r % group) * d }
                let lo = first(0), hi = last(rows - 1)
                /// Walks [lo, hi] in blocks of `source` rows widened to f32; `body(r, from, count, rows)` gets
                /// each query row's visible part of the block.
                @inline(__always) func blocks(_ source: (Int) -> UnsafeMutablePointer<Float16>,
                                              _ body: (Int, Int, Int, UnsafeMutablePointer<Float>) -> Void) {
                    var b = lo
                    while b <= hi {
                        let m = min(block, hi - b + 1)
                        AttentionBlocks.widen(source(b) + g * d, stride: kvDim, rows: m, d: d, into: widened)
                        for r in 0..<rows {
                            let from = max(b, first(r)), to = min(b + m - 1, last(r))
                            if from <= to { body(r, from, to - from + 1, widened + (from - b) * d) }
                        }
                        b += m
                    }
                }

                blocks({ cache.key(layer: layer, position: $0) }) { r, from, count, keys in
                    AttentionBlocks.dots(query(r), keys, count: count, d: d, scale: c.attentionScale, into: scoreRows + r * cache.capacity + from)
                }
                // Softmax of each row.
                for r in 0..<rows {
                    let row = scoreRows + r * cache.capacity, f = first(r), l = last(r)
                    var maxScore = -Float.infinity
                    for p in f...l { maxScore = max(maxScore, row[p]) }
                    let sum = VectorOps.expShifted(row + f, count: l - f + 1, shift: maxScore)
                    VectorOps.scale(row + f, by: 1 / sum, count: l - f + 1)
                    let out = output(r)
                    for i in 0..<d { out[i] = 0 }
                }
                blocks({ cache.value(layer: layer, position: $0) }) { r, from, count, values in
                    AttentionBlocks.weightedSum(scoreRows + r * cache.capacity + from, values, count: count, d: d, into: output(r))
                }
            }
        }
    }
}
