#if canImport(Glibc)
import Glibc
#endif
import Kernels

/// Attention of a step's queries over the cache, with grouped-query heads, causal and sliding-window
/// masks (an encoder's queries see their whole sequence). Short prompts and generation early in a
/// conversation go query row by query row over the f16 cache; later generated tokens go with all the
/// query heads of a KV head together; other batches (prompt processing) go in tiles of tokens × the
/// query heads sharing one KV head, so each block of keys and values is widened to f32 once and read
/// by every query in the tile.
extension Transformer {
    /// Generated tokens before this position attend row by row, rounding as llama.cpp does (short
    /// conversations, where the golden tests compare the two); later ones by KV head (`groupAttention`).
    static let exactRoundingSpan = 512
    /// Tokens per tile and positions per block of the batched path.
    static let attentionTile = 8
    static let attentionBlock = KVPagePool.pageSize
    /// Generation in the first `exactRoundingSpan` positions, and batches whose whole span of
    /// positions fits in one block (a short prompt on an empty cache), go row by row as llama.cpp's
    /// flash attention does below its 64-query tile, so they round as it does. Later generated tokens
    /// go by KV head (`groupAttention`). Every other batch goes in tiles: they share each widened
    /// block among a tile's queries, which makes a short turn appended to a long conversation several
    /// times faster than walking the cache once per query row (where llama.cpp still goes row by row).
    func attention(layer: Int, segments: [Segment], window: Int?) {
        var rows = 0, generated = 0
        for (index, segment) in segments.enumerated() {
            // The row path reads half-precision rows (llama.cpp's rounding); a q8_0 cache is widened
            // block by block instead, which its int8 rows make the faster way. A generated token deep
            // in a conversation reads each key and value once for all the query heads that share it,
            // where the row path reads it once per query head, and its positions are split among the
            // threads.
            let deep = segment.start >= Self.exactRoundingSpan
            let exact = segment.count == 1 ? !deep : segment.start + segment.count <= Self.attentionBlock
            if segment.cache.type == .f16 && exact {
                for t in 0..<segment.count {
                    scratch.rowSegments[rows] = Int32(index)
                    scratch.rowIndices[rows] = Int32(t)
                    rows += 1
                }
            } else if segment.cache.type == .f16 && segment.count == 1 {
                scratch.generatedSegments[generated] = Int32(index)
                generated += 1
            } else {
                batchedAttention(layer: layer, segment: segment, window: window)
            }
        }
        if rows > 0 { rowAttention(layer: layer, segments: segments, rows: rows, window: window) }
        if generated > 0 { groupAttention(layer: layer, segments: segments, generated: generated, window: window) }
    }

    /// Each (token, query head) goes over its visible positions with the online softmax of llama.cpp's
    /// vector flash attention, so short prompts and generation agree with the reference to the
    /// rounding: the query rounded to half precision (after the scale when the architecture scales
    /// queries first), scores summed in llama.cpp's order, each position's weight expf(score − running
    /// maximum), and the weighted values summed in a half-precision accumulator that is rescaled
    /// whenever a new maximum appears. Weights are found for all positions before the values are read.
    /// The rows are listed in `scratch.rowSegments`/`rowIndices`: one job per (row, query head) across
    /// all sequences of the step. f16 caches only.
    private func rowAttention(layer: Int, segments: [Segment], rows: Int, window: Int?) {
        let c = config, s = scratch, d = c.headDim, group = c.heads / c.kvHeads, qDim = c.heads * d
        let preScale: Float = c.scalesQueries ? c.attentionScale : 1
        let sinks = weights.layers[layer].sinks
        let scoreScale: Float = c.scalesQueries ? 1 : c.attentionScale
        pool.parallelFor(rows * c.heads) { range, thread in
            let weights = s.scores + thread * 2 * s.scoreStride
            let rescales = weights + s.scoreStride
            let accumulator = s.tiles + thread * s.tileFloats
            for job in range {
                let segment = segments[Int(s.rowSegments[job / c.heads])], index = Int(s.rowIndices[job / c.heads])
                let cache = segment.cache, t = segment.firstRow + index, h = job % c.heads
                let last = c.causal ? segment.start + index : segment.end, first = window.map { max(0, last - $0 + 1) } ?? 0
                let q = s.q + t * qDim + h * d, kvOffset = (h / group) * d
                for i in 0..<d { q[i] = Float(Float16(q[i] * preScale)) }
                var maxScore = -Float.infinity
                for p in first...last {
                    let key = cache.key(layer: layer, position: p).assumingMemoryBound(to: Float16.self) + kvOffset
                    let score = HalfVectors.dotInSteps(q, key, count: d) * scoreScale
                    rescales[p] = 1
                    weights[p] = 1
                    if score > maxScore {
                        rescales[p] = expf(maxScore - score)
                        maxScore = score
                    } else {
                        weights[p] = expf(score - maxScore)
                    }
                }
                for i in 0..<d { accumulator[i] = 0 }
                var sum: Float = 0
                for p in first...last {
                    if rescales[p] != 1 { HalfVectors.scaleHalf(accumulator, rescales[p], count: d) }
                    let value = cache.value(layer: layer, position: p).assumingMemoryBound(to: Float16.self) + kvOffset
                    HalfVectors.addScaledHalf(accumulator, weights[p], value, count: d)
                    sum = weights[p].addingProduct(sum, rescales[p])
                }
                let out = s.attention + t * qDim + h * d, inverse = 1 / (sum + sinkWeight(sinks, head: h, maximum: maxScore))
                for i in 0..<d { out[i] = accumulator[i] * inverse }
            }
        }
    }

    /// One tile's working memory, carved from a worker thread's part of `scratch.tiles`: the
    /// queries, one block's scores, the outputs (each `rows` floats per line, rows across lanes), each
    /// row's running maximum and sum, and one block of keys or values widened to f32.
    struct Tile {
        let queries, scores, outputs, maxima, sums, widened: UnsafeMutablePointer<Float>

        static func floats(rows: Int, d: Int) -> Int { (2 * d + attentionBlock + 2) * rows + attentionBlock * d }

        init(_ base: UnsafeMutablePointer<Float>, rows: Int, d: Int) {
            queries = base
            scores = queries + d * rows
            outputs = scores + attentionBlock * rows
            maxima = outputs + d * rows
            sums = maxima + rows
            widened = sums + rows
        }
    }

    /// A tile's rows at most: `attentionTile` tokens × the query heads of one KV head, padded to 8.
    static func tileRows(_ c: ModelConfig) -> Int { (attentionTile * c.heads / max(c.kvHeads, 1) + 7) / 8 * 8 }

    /// Floats of one thread's tile memory: a tile's, or `groupAttention`'s for every head.
    static func tileFloats(_ c: ModelConfig) -> Int { max(Tile.floats(rows: tileRows(c), d: c.headDim), groupFloats(c)) }

    /// Floats of `groupAttention`'s working memory: queries, a block's scores, maxima, sums, outputs.
    static func groupFloats(_ c: ModelConfig) -> Int { c.heads * (2 * c.headDim + attentionBlock + 2) }

    /// When a step has fewer tiles than this many per thread (generation: one per KV head), each
    /// tile's positions are split into parts that threads take separately (flash decoding), so a long
    /// cache is read by all threads at once; the parts' partial results are then merged.
    static let splitJobsPerThread = 4
    /// Positions a part covers at least, so merging stays small beside reading them.
    static let splitPositions = 2 * attentionBlock

    /// Floats of one part's partial result: the outputs, maxima and sums of a tile's rows, or of a
    /// generated token's heads.
    static func partialFloats(_ c: ModelConfig) -> Int { max(tileRows(c), c.heads) * (c.headDim + 2) }

    /// Parts of a step at most, per thread (see `positionSplits`): below 2 × `splitJobsPerThread`.
    static let partialSlotsPerThread = 2 * splitJobsPerThread

    /// Into how many parts each of `units` tiles' `positions` go.
    static func positionSplits(units: Int, positions: Int, threads: Int) -> Int {
        let wanted = splitJobsPerThread * threads
        guard units < wanted else { return 1 }
        return max(1, min(positions / splitPositions, (wanted + units - 1) / units))
    }

    /// A head's sink (gpt-oss) as a weight beside its positions' softmax weights, which are relative
    /// to `maximum`: e^(sink − maximum) joins the denominator (0 without sinks). A sink far above
    /// every score makes the weight infinite and the output 0, its limit, never NaN.
    @inline(__always) func sinkWeight(_ sinks: [Float]?, head: Int, maximum: Float) -> Float {
        guard let sinks else { return 0 }
        return expf(sinks[head] - maximum)
    }

    /// Below every real score: a masked position's score, and each row's maximum before its first
    /// block. Finite, so a row whose first block is all masked gets e^0 weights that the next
    /// block's rescale (e^(−10³⁰ − m) = 0) wipes out, never NaN.
    static let maskedScore: Float = -1e30

    /// One segment's rows in tiles of `attentionTile` tokens × the query heads sharing a KV head,
    /// walking the cache's pages (64 positions, contiguous per layer) with an online softmax: for
    /// each block the tile's scores, their softmax step, and the weighted sum of the block's values.
    private func batchedAttention(layer: Int, segment: Segment, window: Int?) {
        let c = config, s = scratch, d = c.headDim, group = c.heads / c.kvHeads
        let n = segment.count, start = segment.start, cache = segment.cache, base = segment.firstRow
        let qDim = c.heads * d, tile = Self.attentionTile, block = Self.attentionBlock
        let tiles = (n + tile - 1) / tile, units = tiles * c.kvHeads
        let splits = Self.positionSplits(units: units, positions: start + n, threads: pool.count)
        let partialFloats = Self.partialFloats(c), sinks = weights.layers[layer].sinks
        pool.parallelFor(units * splits) { range, thread in
            let memory = s.tiles + thread * s.tileFloats
            for job in range {
                let unit = job / splits, part = job % splits
                let g = unit % c.kvHeads, t0 = (unit / c.kvHeads) * tile, t1 = min(n, t0 + tile)
                // Row r is token t0 + r / group, query head g · group + r % group; it sees [first, last].
                // The rows are padded to a multiple of 8 with zero queries whose outputs are dropped.
                let real = (t1 - t0) * group, rows = (real + 7) / 8 * 8
                let m = Tile(memory, rows: rows, d: d)
                @inline(__always) func last(_ r: Int) -> Int { c.causal ? start + t0 + r / group : segment.end }
                @inline(__always) func first(_ r: Int) -> Int { window.map { max(0, last(r) - $0 + 1) } ?? 0 }
                @inline(__always) func head(_ r: Int) -> Int { (base + t0 + r / group) * qDim + (g * group + r % group) * d }
                for r in 0..<rows {
                    let q = s.q + head(r)
                    for i in 0..<d { m.queries[i * rows + r] = r < real ? q[i] * c.attentionScale : 0 }
                    m.maxima[r] = Self.maskedScore
                    m.sums[r] = 0
                }
                m.outputs.initialize(repeating: 0, count: d * rows)
                // This part's share of the tile's blocks.
                let firstBlock = first(0) / block, blocks = last(real - 1) / block - firstBlock + 1
                let lo = max(first(0), (firstBlock + part * blocks / splits) * block)
                let hi = min(last(real - 1), (firstBlock + (part + 1) * blocks / splits) * block - 1)
                let headOffset = cache.type.headOffset(g, d: d)
                var b = lo
                while b <= hi {
                    let count = min(block - b % block, hi - b + 1)
                    cache.type.widen(cache.key(layer: layer, position: b) + headOffset, rowBytes: cache.rowBytes, rows: count, d: d, into: m.widened)
                    AttentionBlocks.tileProduct(m.queries, rows: rows, m.widened, outStride: d, reduceStride: 1,
                                                outputs: count, reduce: d, into: m.scores, accumulate: false)
                    // Positions a row does not see: after its token (causal) or before its window.
                    if b < first(real - 1) || b + count - 1 > last(0) {
                        for r in 0..<real {
                            for p in 0..<count where b + p < first(r) || b + p > last(r) { m.scores[p * rows + r] = Self.maskedScore }
                        }
                    }
                    AttentionBlocks.onlineSoftmax(m.scores, rows: rows, count: count, maxima: m.maxima, sums: m.sums, output: m.outputs, d: d)
                    cache.type.widen(cache.value(layer: layer, position: b) + headOffset, rowBytes: cache.rowBytes, rows: count, d: d, into: m.widened)
                    AttentionBlocks.tileProduct(m.scores, rows: rows, m.widened, outStride: 1, reduceStride: d,
                                                outputs: d, reduce: count, into: m.outputs, accumulate: true)
                    b += count
                }
                if splits == 1 {
                    for r in 0..<real {
                        let sink = sinkWeight(sinks, head: g * group + r % group, maximum: m.maxima[r])
                        let out = s.attention + head(r), inverse = 1 / (m.sums[r] + sink)
                        for j in 0..<d { out[j] = m.outputs[j * rows + r] * inverse }
                    }
                } else {
                    let slot = s.partials + job * partialFloats
                    slot.update(from: m.outputs, count: d * rows)
                    (slot + d * rows).update(from: m.maxima, count: rows)
                    (slot + (d + 1) * rows).update(from: m.sums, count: rows)
                }
            }
        }
        guard splits > 1 else { return }
        for unit in 0..<units {
            let g = unit % c.kvHeads, t0 = (unit / c.kvHeads) * tile, real = (min(n, t0 + tile) - t0) * group
            let rows = (real + 7) / 8 * 8, parts = s.partials + unit * splits * partialFloats
            for r in 0..<real {
                mergeParts(parts, splits: splits, row: r, rows: rows, strides: (1, rows), head: g * group + r % group, sinks: sinks,
                           into: s.attention + (base + t0 + r / group) * qDim + (g * group + r % group) * d)
            }
        }
    }

    /// Generated tokens deep in a conversation over an f16 cache, one job per token and part of its
    /// positions: for each block of positions, the query heads sharing each KV head go together
    /// (`AttentionBlocks.groupBlock`), so every key and value is read once for all of them, straight
    /// from half precision and with no padding rows. A job takes every KV head of its positions, so
    /// it reads the cache's rows whole and in order. Positions are split among the threads as the
    /// tiles' are, and the parts merged the same way.
    private func groupAttention(layer: Int, segments: [Segment], generated: Int, window: Int?) {
        let c = config, s = scratch, d = c.headDim, group = c.heads / c.kvHeads, qDim = c.heads * d, block = Self.attentionBlock
        let positions = (0..<generated).reduce(0) { max($0, segments[Int(s.generatedSegments[$1])].end + 1) }
        let splits = Self.positionSplits(units: generated, positions: positions, threads: pool.count)
        let partialFloats = Self.partialFloats(c), sinks = weights.layers[layer].sinks
        pool.parallelFor(generated * splits) { range, thread in
            // Within the thread's tile memory (`groupFloats`): the scaled queries, one block's scores,
            // each head's running maximum and sum, and its output.
            let q = s.tiles + thread * s.tileFloats, scores = q + qDim
            let maxima = scores + c.heads * block, sums = maxima + c.heads, outputs = sums + c.heads
            for job in range {
                let part = job % splits, segment = segments[Int(s.generatedSegments[job / splits])], cache = segment.cache
                let last = c.causal ? segment.start : segment.end, first = window.map { max(0, last - $0 + 1) } ?? 0
                let queries = s.q + segment.firstRow * qDim
                for i in 0..<qDim { q[i] = queries[i] * c.attentionScale }
                for h in 0..<c.heads {
                    maxima[h] = Self.maskedScore
                    sums[h] = 0
                }
                outputs.initialize(repeating: 0, count: qDim)
                // This part's share of the token's blocks.
                let firstBlock = first / block, blocks = last / block - firstBlock + 1
                let lo = max(first, (firstBlock + part * blocks / splits) * block)
                let hi = min(last, (firstBlock + (part + 1) * blocks / splits) * block - 1)
                var b = lo
                while b <= hi {
                    let count = min(block - b % block, hi - b + 1)
                    let keys = cache.key(layer: layer, position: b), values = cache.value(layer: layer, position: b)
                    for g in 0..<c.kvHeads {
                        let offset = cache.type.headOffset(g, d: d), heads = g * group
                        AttentionBlocks.groupBlock(q + heads * d, group: group, d: d, keys: (keys + offset).assumingMemoryBound(to: Float16.self),
                                                   values: (values + offset).assumingMemoryBound(to: Float16.self), stride: cache.rowBytes / 2,
                                                   count: count, scores: scores + heads * block, scoreStride: block, maxima: maxima + heads,
                                                   sums: sums + heads, output: outputs + heads * d)
                    }
                    b += count
                }
                if splits == 1 {
                    for h in 0..<c.heads {
                        let out = s.attention + segment.firstRow * qDim + h * d
                        let inverse = 1 / (sums[h] + sinkWeight(sinks, head: h, maximum: maxima[h]))
                        for j in 0..<d { out[j] = outputs[h * d + j] * inverse }
                    }
                } else {
                    let slot = s.partials + job * partialFloats
                    slot.update(from: outputs, count: qDim)
                    (slot + qDim).update(from: maxima, count: c.heads)
                    (slot + qDim + c.heads).update(from: sums, count: c.heads)
                }
            }
        }
        guard splits > 1 else { return }
        for t in 0..<generated {
            let row = segments[Int(s.generatedSegments[t])].firstRow
            for h in 0..<c.heads {
                mergeParts(s.partials + t * splits * partialFloats, splits: splits, row: h, rows: c.heads, strides: (d, 1),
                           head: h, sinks: sinks, into: s.attention + row * qDim + h * d)
            }
        }
    }

    /// Row r's result from its `splits` partial results (`partialFloats` apart; output j at
    /// r·strides.row + j·strides.column, then `rows` maxima and `rows` sums after d·rows floats): each
    /// part rescaled to the largest maximum, then divided by the total sum. A part that saw none of
    /// the row's positions has the masked maximum, so its weight is 0.
    private func mergeParts(_ parts: UnsafePointer<Float>, splits: Int, row r: Int, rows: Int, strides: (row: Int, column: Int),
                            head: Int, sinks: [Float]?, into out: UnsafeMutablePointer<Float>) {
        let d = config.headDim, partialFloats = Self.partialFloats(config)
        var maximum = Self.maskedScore
        for p in 0..<splits { maximum = max(maximum, parts[p * partialFloats + d * rows + r]) }
        var sum: Float = 0
        for j in 0..<d { out[j] = 0 }
        for p in 0..<splits {
            let part = parts + p * partialFloats, outputs = part + r * strides.row
            let weight = expf(part[d * rows + r] - maximum)
            sum += part[(d + 1) * rows + r] * weight
            for j in 0..<d { out[j] += outputs[j * strides.column] * weight }
        }
        let inverse = 1 / (sum + sinkWeight(sinks, head: head, maximum: maximum))
        for j in 0..<d { out[j] *= inverse }
    }
}
