#if canImport(Glibc)
import Glibc
#endif
import GGUF
import Kernels

/// The shared decoder of all supported architectures: embeddings, N blocks of attention and
/// gated feed-forward with RMSNorm, and the output projection. Architecture differences are the
/// flags of `ModelConfig`.
public final class Transformer: @unchecked Sendable {
    public let config: ModelConfig
    public let file: GGUFFile
    public let pool: ThreadPool
    let weights: ModelWeights
    /// RoPE scaling's constants for the global layers' RoPE base and the sliding-window layers': YaRN's
    /// blend and magnitude, or only the file's attention factor as the magnitude (LongRoPE).
    let ropeScaling: (global: YaRNRamp, sliding: YaRNRamp)?
    /// Tokens processed per forward step; longer prompts are cut into chunks of this size.
    public let batchCapacity: Int
    let scratch: Scratch

    /// The dot-product path (tests compare paths end to end).
    public let kernel: DotKernel

    /// Bytes of weights one generated token reads (see `ModelWeights.bytesReadPerToken`).
    public var weightBytesPerToken: Int { weights.bytesReadPerToken(expertsUsed: config.experts?.used ?? 0) }

    /// `pool`: the process's shared workers (a server runs every model on one pool, one step at a
    /// time); without it the model gets a pool of `threads` of its own. `sequenceLength`: the longest
    /// sequence it will run (nil: the trained context), which LongRoPE models choose factors by.
    public init(gguf: GGUFFile, vocabularySize: Int, sequenceLength: Int? = nil, threads: Int = ThreadPool.defaultThreadCount(),
                pool: ThreadPool? = nil, batchCapacity: Int = 256, kernel: DotKernel = .current) throws {
        self.kernel = kernel
        file = gguf
        config = try ArchitectureRegistry.config(for: gguf, vocabularySize: vocabularySize, sequenceLength: sequenceLength)
        weights = try ModelWeights(gguf: gguf, config: config)
        let c = config
        let ramp = { (base: Float) -> YaRNRamp? in
            if let original = c.yarnOriginalContext {
                return YaRNRamp(headDim: c.ropeDimensions, base: base, factor: 1 / c.ropeScale, originalContext: original,
                                attentionFactor: c.ropeAttentionFactor)
            }
            return c.ropeAttentionFactor == 1 ? nil : YaRNRamp(magnitude: c.ropeAttentionFactor)
        }
        ropeScaling = ramp(c.ropeBase).map { ($0, ramp(c.ropeBaseSliding ?? c.ropeBase)!) }
        self.pool = pool ?? ThreadPool(threads: threads)
        // An encoder's tokens all attend to one another: a sequence is one step.
        self.batchCapacity = c.causal ? batchCapacity : max(batchCapacity, c.sequenceLength)
        scratch = Scratch(config: config, batch: self.batchCapacity, threads: self.pool.count, tileFloats: Self.tileFloats(config))
    }

    /// A sequence of up to `contextLength` positions on a page pool of its own.
    public func makeCache(contextLength: Int, type: KVCacheType = .f16) -> KVCache {
        KVCache(pool: makePagePool(positions: contextLength, type: type), capacity: contextLength)
    }

    /// A page pool for `positions` positions of this model's keys and values, shared by sequences.
    /// q8_0 needs a head size that is a multiple of 32 (`KVCacheType.supports`).
    public func makePagePool(positions: Int, type: KVCacheType = .f16) -> KVPagePool {
        precondition(type.supports(headDim: config.headDim), "\(type.rawValue) KV cache needs a head size that is a multiple of 32")
        return KVPagePool(layers: config.layers, kvDim: config.kvHeads * config.headDim,
                          pages: (positions + KVPagePool.pageSize - 1) / KVPagePool.pageSize, type: type)
    }

    public enum Logits { case last, all }

    /// Runs `tokens` at the positions after the cache's contents and appends them to the cache.
    /// Returns the logits of the last token (`.last`) or of every token (`.all`, row-major).
    public func forward(_ tokens: [Int32], cache: KVCache, logits: Logits = .last) -> [Float] {
        precondition(cache.count + tokens.count <= cache.capacity, "context overflow")
        var out: [Float] = []
        var start = 0
        while start < tokens.count {
            let n = min(batchCapacity, tokens.count - start)
            let isLast = start + n == tokens.count
            let rows: Range<Int> = logits == .all ? 0..<n : (isLast ? (n - 1)..<n : 0..<0)
            out += step(layout([SequenceChunk(cache: cache, tokens: tokens[start..<(start + n)])]), logitRows: rows)
            start += n
        }
        return out
    }

    /// Some tokens of one sequence in a batched step: they go at the positions after its cache's contents.
    public struct SequenceChunk {
        public var cache: KVCache
        public var tokens: ArraySlice<Int32>
        /// Whether the step returns the logits after the chunk's last token.
        public var wantsLogits: Bool

        public init(cache: KVCache, tokens: ArraySlice<Int32>, wantsLogits: Bool = true) {
            self.cache = cache
            self.tokens = tokens
            self.wantsLogits = wantsLogits
        }
    }

    /// One forward step over several sequences: every chunk's tokens are rows of the same matrix
    /// products (a weight row is read once for all of them), and each row attends over its own
    /// sequence. The rows must fit `batchCapacity`; caches are distinct. Returns the logits after
    /// the last token of each chunk that wants them, in order.
    public func forward(batch: [SequenceChunk]) -> [[Float]] {
        precondition(batch.reduce(0) { $0 + $1.tokens.count } <= batchCapacity, "batch larger than the step")
        let layout = layout(batch)
        let rows = batch.indices.filter { batch[$0].wantsLogits }.map { layout.lastRows[$0] }
        let flat = step(layout, logitRows: rows)
        let v = config.vocabularySize
        return rows.indices.map { Array(flat[($0 * v)..<(($0 + 1) * v)]) }
    }

    /// An embedding of `tokens`: the final normalised hidden states pooled over the sequence and
    /// scaled to unit length. Uses `cache` as scratch (it must be empty and hold every token; an
    /// encoder's sequence must fit one step).
    public func embedding(_ tokens: [Int32], cache: KVCache) -> [Float] {
        precondition(cache.count == 0 && tokens.count <= cache.capacity && !tokens.isEmpty)
        precondition(config.causal || tokens.count <= batchCapacity, "an encoder's sequence longer than its step")
        precondition(weights.positions == nil || tokens.count <= config.trainedContext, "a sequence longer than the learned positions")
        let e = config.embeddingLength
        var pooled = [Double](repeating: 0, count: e)
        var start = 0
        while start < tokens.count {
            let n = min(batchCapacity, tokens.count - start)
            runLayers(layout([SequenceChunk(cache: cache, tokens: tokens[start..<(start + n)])]))
            let rows: Range<Int> = switch config.pooling {
            case .mean: 0..<n
            case .first: start == 0 ? 0..<1 : 0..<0
            case .last: start + n == tokens.count ? (n - 1)..<n : 0..<0
            }
            // An encoder's last layer ends with its own norm.
            let states = weights.outputNorm == nil ? scratch.x + rows.lowerBound * e : scratch.h
            if let norm = weights.outputNorm { normRows(scratch.x + rows.lowerBound * e, norm, into: scratch.h, rows: rows.count, width: e) }
            for r in 0..<rows.count { for i in 0..<e { pooled[i] += Double(states[r * e + i]) } }
            start += n
        }
        let norm = pooled.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return pooled.map { Float(norm > 0 ? $0 / norm : 0) }
    }

    /// A chunk placed in the step: its rows and the position of its first token.
    struct Segment {
        let cache: KVCache
        let tokens: ArraySlice<Int32>
        let firstRow: Int
        let start: Int
        /// The position of its chunk's last token: what an encoder's tokens attend up to.
        let end: Int
        var count: Int { tokens.count }
    }

    /// Where a step's tokens go: segments of rows, the first `tiled` rows taken eight at a time by
    /// the matrix kernels, and the row of each chunk's last token.
    struct Layout {
        var segments: [Segment] = []
        var tiled = 0
        var lastRows: [Int] = []
    }

    /// Lays out the step with pages reserved for every position: each chunk's whole groups of eight
    /// tokens first (rows the matrix kernels take eight at a time), then every chunk's remaining
    /// tokens (a generating sequence's single token among them), which round as a single token
    /// does. A chunk's result then depends on its own tokens and cache only, never on what else
    /// shares the step: a sequence generates the same tokens alone or beside others.
    private func layout(_ batch: [SequenceChunk]) -> Layout {
        var layout = Layout()
        layout.tiled = batch.reduce(0) { $0 + $1.tokens.count / 8 * 8 }
        var headRow = 0, tailRow = layout.tiled
        var tails: [Segment] = []
        for chunk in batch {
            let cache = chunk.cache, n = chunk.tokens.count, head = n / 8 * 8
            precondition(cache.reserve(n), "no KV cache page left for the step")
            let split = chunk.tokens.startIndex + head
            let end = cache.count + n - 1
            if head > 0 {
                layout.segments.append(Segment(cache: cache, tokens: chunk.tokens[..<split], firstRow: headRow, start: cache.count, end: end))
                headRow += head
            }
            if head < n {
                tails.append(Segment(cache: cache, tokens: chunk.tokens[split...], firstRow: tailRow, start: cache.count + head, end: end))
                tailRow += n - head
            }
            layout.lastRows.append((head < n ? tailRow : headRow) - 1)
        }
        layout.segments += tails
        return layout
    }

    /// Runs a laid-out step and returns the logits of the given rows (row-major).
    private func step(_ layout: Layout, logitRows rows: some Collection<Int>) -> [Float] {
        runLayers(layout)
        let c = config, s = scratch, e = c.embeddingLength
        let m = rows.count
        guard m > 0 else { return [] }
        guard let outputNorm = weights.outputNorm, let output = weights.output else { preconditionFailure("an encoder has no logits") }
        for (i, r) in rows.enumerated() where i != r { (s.x + i * e).update(from: s.x + r * e, count: e) }
        normRows(s.x, outputNorm, into: s.h, rows: m, width: e)
        var logits = [Float](repeating: 0, count: m * c.vocabularySize)
        logits.withUnsafeMutableBufferPointer { out in
            // Every row as a single token: a sequence's logits do not depend on its neighbours.
            project(output, s.h, tokens: m, tiled: 0, into: out.baseAddress!, bias: nil)
            if c.finalLogitSoftcap > 0 {
                let cap = c.finalLogitSoftcap
                for i in 0..<out.count { out[i] = cap * tanhf(out[i] / cap) }
            }
        }
        return logits
    }

    /// Runs the decoder blocks over the segments' tokens, leaving their hidden states in
    /// `scratch.x` (one row per token, segments one after another), and appends them to the caches.
    private func runLayers(_ layout: Layout) {
        let c = config, s = scratch, segments = layout.segments, tiled = layout.tiled
        let n = segments.reduce(0) { $0 + $1.count }
        let e = c.embeddingLength, qDim = c.heads * c.headDim, kvDim = c.kvHeads * c.headDim
        s.reserveScores(positions: segments.reduce(0) { max($0, $1.cache.capacity) }, threads: pool.count)

        for segment in segments {
            for (i, token) in segment.tokens.enumerated() {
                let t = segment.firstRow + i, row = s.x + t * e
                weights.embeddings.dequantizeRow(Int(token), into: row)
                if c.embeddingScale != 1 { VectorOps.scale(row, by: c.embeddingScale, count: e) }
                if let type = weights.tokenType { type.withUnsafeBufferPointer { VectorOps.add(row, $0.baseAddress!, count: e) } }
                if let positions = weights.positions {
                    positions.dequantizeRow(segment.start + i, into: s.h)
                    VectorOps.add(row, s.h, count: e)
                }
            }
        }
        if let norm = weights.embeddingNorm { normRows(s.x, norm, into: s.x, rows: n, width: e) }

        for (l, w) in weights.layers.enumerated() {
            // A sublayer's input: the normalised residual (decoders), or the residual itself (encoders).
            let input = w.attentionNorm == nil ? s.x : s.h
            if let norm = w.attentionNorm { normRows(s.x, norm, into: s.h, rows: n, width: e) }
            project(w.q, input, tokens: n, tiled: tiled, into: s.q, bias: w.qBias)
            project(w.k, input, tokens: n, tiled: tiled, into: s.k, bias: w.kBias)
            project(w.v, input, tokens: n, tiled: tiled, into: s.v, bias: w.vBias)

            let sliding = c.isSliding(layer: l)
            for segment in segments {
                for i in 0..<segment.count {
                    let t = segment.firstRow + i, position = segment.start + i
                    for h in 0..<c.heads {
                        let head = s.q + t * qDim + h * c.headDim
                        if let qn = w.qNorm { qn.withUnsafeBufferPointer { VectorOps.rmsNorm(head, weight: $0.baseAddress!, epsilon: c.normEpsilon, count: c.headDim, into: head) } }
                        if !c.positionEmbeddings { rope(head, position: position, sliding: sliding) }
                    }
                    let keyRow = segment.cache.key(layer: l, position: position)
                    let valueRow = segment.cache.value(layer: l, position: position)
                    for h in 0..<c.kvHeads {
                        let head = s.k + t * kvDim + h * c.headDim
                        if let kn = w.kNorm { kn.withUnsafeBufferPointer { VectorOps.rmsNorm(head, weight: $0.baseAddress!, epsilon: c.normEpsilon, count: c.headDim, into: head) } }
                        if !c.positionEmbeddings { rope(head, position: position, sliding: sliding) }
                    }
                    segment.cache.type.store(s.k + t * kvDim, count: kvDim, into: keyRow)
                    segment.cache.type.store(s.v + t * kvDim, count: kvDim, into: valueRow)
                }
            }

            attention(layer: l, segments: segments, window: sliding ? c.slidingWindow : nil)
            project(w.output, s.attention, tokens: n, tiled: tiled, into: s.o, bias: w.outputBias)
            addResidual(w.postAttentionNorm, rows: n)

            let ffnInput = w.ffnNorm == nil ? s.x : s.h
            if let norm = w.ffnNorm { normRows(s.x, norm, into: s.h, rows: n, width: e) }
            switch w.feedForward {
            case let .dense(gate?, up, down, upBias, downBias):
                project(gate, ffnInput, tokens: n, tiled: tiled, into: s.gate, bias: nil)
                project(up, ffnInput, tokens: n, tiled: tiled, into: s.up, bias: upBias)
                activate(s.gate, s.up, count: n * c.feedForwardLength)
                project(down, s.gate, tokens: n, tiled: tiled, into: s.o, bias: downBias)
            case let .dense(nil, up, down, upBias, downBias):
                project(up, ffnInput, tokens: n, tiled: tiled, into: s.up, bias: upBias)
                VectorOps.gelu(s.up, count: n * c.feedForwardLength)
                project(down, s.up, tokens: n, tiled: tiled, into: s.o, bias: downBias)
            case let .experts(experts):
                mixtureOfExperts(experts, rows: n, tiled: tiled)
            }
            addResidual(w.postFFNNorm, rows: n)
        }
        for segment in segments { segment.cache.append(segment.tokens) }
    }

    /// x += o for a sublayer's output `o`, with its post-norm: on `o` before the sum (Gemma), or on the
    /// sum (encoders).
    private func addResidual(_ norm: NormWeights?, rows n: Int) {
        let s = scratch, e = config.embeddingLength
        if let norm, !config.residualNorms { normRows(s.o, norm, into: s.o, rows: n, width: e) }
        VectorOps.add(s.x, s.o, count: n * e)
        if let norm, config.residualNorms { normRows(s.x, norm, into: s.x, rows: n, width: e) }
    }

    /// The gated feed-forward's activation: gate ← act(gate, up).
    func activate(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
        switch config.activation {
        case .swiglu: VectorOps.swiglu(gate, up, count: count)
        case .geglu: VectorOps.geglu(gate, up, count: count)
        case .clampedSwiglu: VectorOps.clampedSwiglu(gate, up, count: count)
        case .gelu: preconditionFailure("GELU has no gate")
        }
    }

    /// Rotates one query or key head for its position (with the file's frequency factors and YaRN, if any).
    private func rope(_ head: UnsafeMutablePointer<Float>, position: Int, sliding: Bool) {
        let c = config
        let base = sliding ? (c.ropeBaseSliding ?? c.ropeBase) : c.ropeBase
        let ramp = sliding ? ropeScaling?.sliding : ropeScaling?.global
        guard let factors = weights.ropeFactors else {
            return VectorOps.rope(head, headDim: c.ropeDimensions, position: position, base: base, scale: c.ropeScale, neox: c.ropeNeox, yarn: ramp)
        }
        factors.withUnsafeBufferPointer {
            VectorOps.rope(head, headDim: c.ropeDimensions, position: position, base: base, scale: c.ropeScale, neox: c.ropeNeox,
                           factors: $0.baseAddress, yarn: ramp)
        }
    }

    /// RMSNorm, or LayerNorm with its bias (`ModelConfig.layerNorm`), of each row; `y` may be `x`.
    private func normRows(_ x: UnsafeMutablePointer<Float>, _ norm: NormWeights, into y: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
        let epsilon = config.normEpsilon
        norm.weight.withUnsafeBufferPointer { w in
            guard config.layerNorm else {
                for r in 0..<rows { VectorOps.rmsNorm(x + r * width, weight: w.baseAddress!, epsilon: epsilon, count: width, into: y + r * width) }
                return
            }
            func normalise(bias: UnsafePointer<Float>?) {
                for r in 0..<rows {
                    VectorOps.layerNorm(x + r * width, weight: w.baseAddress!, bias: bias, epsilon: epsilon, count: width, into: y + r * width)
                }
            }
            if let bias = norm.bias { bias.withUnsafeBufferPointer { normalise(bias: $0.baseAddress!) } } else { normalise(bias: nil) }
        }
    }

    func project(_ m: WeightMatrix, _ x: UnsafeMutablePointer<Float>, tokens: Int, tiled: Int,
                         into y: UnsafeMutablePointer<Float>, bias: [Float]?) {
        let acts = scratch.activations
        if !m.isFloat {
            pool.parallelFor(tokens) { range in
                for t in range { acts.quantize(x + t * m.columns, into: t * m.columns, count: m.columns, grid: m.activationGrid) }
            }
            if tiled > 0 { acts.regroup(tokens: tokens, columns: m.columns) }
        }
        m.multiply(x, quantized: acts, tokens: tokens, tiled: tiled, into: y, pool: pool, kernel: kernel)
        if let bias {
            bias.withUnsafeBufferPointer { b in
                for t in 0..<tokens { VectorOps.add(y + t * m.rows, b.baseAddress!, count: m.rows) }
            }
        }
    }

    /// Working memory for one forward step of up to `batch` tokens.
    final class Scratch {
        let x, h, q, k, v, attention, o, gate, up: UnsafeMutablePointer<Float>
        let activations: QuantizedActivations
        /// Per worker thread: the row path's two rows of `scoreStride` weights (grown to the longest
        /// sequence seen), and the tiled path's working memory (`tileFloats`, see `Tile`).
        private(set) var scoreStride = 0
        private(set) var scores = UnsafeMutablePointer<Float>.allocate(capacity: 0)
        let tileFloats: Int
        let tiles: UnsafeMutablePointer<Float>
        /// The partial results of a step's position-split attention parts (`partialSlotsPerThread`
        /// per thread, each `partialFloats`).
        let partials: UnsafeMutablePointer<Float>
        /// The row-by-row attention's rows: each row's segment.
        let rowSegments: UnsafeMutablePointer<Int32>
        let rowIndices: UnsafeMutablePointer<Int32>
        /// The segments of generated tokens that attend with `groupAttention`.
        let generatedSegments: UnsafeMutablePointer<Int32>
        /// The expert feed-forward's memory (mixture-of-experts models only).
        let experts: ExpertScratch?

        init(config c: ModelConfig, batch: Int, threads: Int, tileFloats: Int) {
            self.tileFloats = tileFloats
            tiles = .allocate(capacity: threads * tileFloats)
            partials = .allocate(capacity: threads * Transformer.partialSlotsPerThread * Transformer.partialFloats(c))
            rowSegments = .allocate(capacity: batch)
            rowIndices = .allocate(capacity: batch)
            generatedSegments = .allocate(capacity: batch)
            let e = c.embeddingLength, qDim = c.heads * c.headDim, kvDim = c.kvHeads * c.headDim, ff = c.feedForwardLength
            // An expert's rows may be padded by up to seven (`mixtureOfExperts`).
            let ffRows = c.experts == nil ? batch : batch + 7
            experts = c.experts.map { ExpertScratch(routing: $0, embedding: e, capacity: batch) }
            x = .allocate(capacity: batch * e)
            h = .allocate(capacity: batch * e)
            q = .allocate(capacity: batch * qDim)
            k = .allocate(capacity: batch * kvDim)
            v = .allocate(capacity: batch * kvDim)
            attention = .allocate(capacity: batch * qDim)
            o = .allocate(capacity: batch * e)
            gate = .allocate(capacity: ffRows * ff)
            up = .allocate(capacity: ffRows * ff)
            activations = QuantizedActivations(capacity: ffRows * max(e, qDim, ff))
        }

        /// Makes the score rows hold `positions` positions (allocates only when a longer sequence comes).
        func reserveScores(positions: Int, threads: Int) {
            guard positions > scoreStride else { return }
            scores.deallocate()
            scores = .allocate(capacity: threads * 2 * positions)
            scoreStride = positions
        }

        deinit {
            for p in [x, h, q, k, v, attention, o, gate, up, scores, tiles, partials] { p.deallocate() }
            rowSegments.deallocate()
            rowIndices.deallocate()
            generatedSegments.deallocate()
            activations.deallocate()
        }
    }
}
