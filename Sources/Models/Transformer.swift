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
    /// Tokens processed per forward step; longer prompts are cut into chunks of this size.
    public let batchCapacity: Int
    let scratch: Scratch

    /// The dot-product path (tests compare paths end to end).
    public let kernel: DotKernel

    /// `pool`: the process's shared workers (a server runs every model on one pool, one step at a
    /// time); without it the model gets a pool of `threads` of its own.
    public init(gguf: GGUFFile, vocabularySize: Int, threads: Int = ThreadPool.defaultThreadCount(), pool: ThreadPool? = nil,
                batchCapacity: Int = 256, kernel: DotKernel = .current) throws {
        self.kernel = kernel
        file = gguf
        config = try Architectures.config(for: gguf, vocabularySize: vocabularySize)
        weights = try ModelWeights(gguf: gguf, config: config)
        self.pool = pool ?? ThreadPool(threads: threads)
        self.batchCapacity = batchCapacity
        scratch = Scratch(config: config, batch: batchCapacity)
    }

    public func makeCache(contextLength: Int) -> KVCache {
        KVCache(layers: config.layers, kvDim: config.kvHeads * config.headDim, capacity: contextLength, threads: pool.count,
                scoreRows: Self.attentionTile * (config.heads / config.kvHeads), blockBytes: Self.attentionBlock * config.headDim * 4)
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
            let chunk = Array(tokens[start..<(start + n)])
            let isLast = start + n == tokens.count
            let rows: Range<Int>? = logits == .all ? 0..<n : (isLast ? (n - 1)..<n : nil)
            out += step(chunk, cache: cache, logitRows: rows)
            start += n
        }
        return out
    }

    /// An embedding of `tokens`: the final normalised hidden states pooled over the sequence and
    /// scaled to unit length. Uses `cache` as scratch (it must be empty and hold every token).
    public func embedding(_ tokens: [Int32], cache: KVCache) -> [Float] {
        precondition(cache.count == 0 && tokens.count <= cache.capacity && !tokens.isEmpty)
        let e = config.embeddingLength
        var pooled = [Double](repeating: 0, count: e)
        var start = 0
        while start < tokens.count {
            let n = min(batchCapacity, tokens.count - start)
            runLayers(Array(tokens[start..<(start + n)]), cache: cache)
            let rows: Range<Int> = switch config.pooling {
            case .mean: 0..<n
            case .first: start == 0 ? 0..<1 : 0..<0
            case .last: start + n == tokens.count ? (n - 1)..<n : 0..<0
            }
            normRows(scratch.x + rows.lowerBound * e, weights.outputNorm, into: scratch.h, rows: rows.count, width: e)
            for r in 0..<rows.count { for i in 0..<e { pooled[i] += Double(scratch.h[r * e + i]) } }
            start += n
        }
        let norm = pooled.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return pooled.map { Float(norm > 0 ? $0 / norm : 0) }
    }

    private func step(_ tokens: [Int32], cache: KVCache, logitRows: Range<Int>?) -> [Float] {
        runLayers(tokens, cache: cache)
        guard let rows = logitRows else { return [] }
        let c = config, s = scratch, e = c.embeddingLength
        let m = rows.count
        normRows(s.x + rows.lowerBound * e, weights.outputNorm, into: s.h, rows: m, width: e)
        var logits = [Float](repeating: 0, count: m * c.vocabularySize)
        logits.withUnsafeMutableBufferPointer { out in
            project(weights.output, s.h, tokens: m, into: out.baseAddress!, bias: nil)
            if c.finalLogitSoftcap > 0 {
                let cap = c.finalLogitSoftcap
                for i in 0..<out.count { out[i] = cap * tanhf(out[i] / cap) }
            }
        }
        return logits
    }

    /// Runs the decoder blocks over `tokens`, leaving their hidden states in `scratch.x`.
    private func runLayers(_ tokens: [Int32], cache: KVCache) {
        let c = config, s = scratch, n = tokens.count
        let e = c.embeddingLength, qDim = c.heads * c.headDim, kvDim = c.kvHeads * c.headDim
        let start = cache.count

        for (t, token) in tokens.enumerated() {
            weights.embeddings.dequantizeRow(Int(token), into: s.x + t * e)
            if c.embeddingScale != 1 { VectorOps.scale(s.x + t * e, by: c.embeddingScale, count: e) }
        }

        for (l, w) in weights.layers.enumerated() {
            normRows(s.x, w.attentionNorm, into: s.h, rows: n, width: e)
            project(w.q, s.h, tokens: n, into: s.q, bias: w.qBias)
            project(w.k, s.h, tokens: n, into: s.k, bias: w.kBias)
            project(w.v, s.h, tokens: n, into: s.v, bias: w.vBias)

            let sliding = c.isSliding(layer: l)
            let base = sliding ? (c.ropeBaseSliding ?? c.ropeBase) : c.ropeBase
            for t in 0..<n {
                let position = start + t
                for h in 0..<c.heads {
                    let head = s.q + t * qDim + h * c.headDim
                    if let qn = w.qNorm { qn.withUnsafeBufferPointer { VectorOps.rmsNorm(head, weight: $0.baseAddress!, epsilon: c.rmsEpsilon, count: c.headDim, into: head) } }
                    VectorOps.rope(head, headDim: c.headDim, position: position, base: base, scale: c.ropeScale, neox: c.ropeNeox)
                }
                let keyRow = cache.key(layer: l, position: position)
                let valueRow = cache.value(layer: l, position: position)
                for h in 0..<c.kvHeads {
                    let head = s.k + t * kvDim + h * c.headDim
                    if let kn = w.kNorm { kn.withUnsafeBufferPointer { VectorOps.rmsNorm(head, weight: $0.baseAddress!, epsilon: c.rmsEpsilon, count: c.headDim, into: head) } }
                    VectorOps.rope(head, headDim: c.headDim, position: position, base: base, scale: c.ropeScale, neox: c.ropeNeox)
                }
                for i in 0..<kvDim {
                    keyRow[i] = Float16(s.k[t * kvDim + i])
                    valueRow[i] = Float16(s.v[t * kvDim + i])
                }
            }

            attention(layer: l, tokens: n, start: start, window: sliding ? c.slidingWindow : nil, cache: cache)
            project(w.output, s.attention, tokens: n, into: s.o, bias: nil)
            if let post = w.postAttentionNorm { normRows(s.o, post, into: s.o, rows: n, width: e) }
            VectorOps.add(s.x, s.o, count: n * e)

            normRows(s.x, w.ffnNorm, into: s.h, rows: n, width: e)
            project(w.gate, s.h, tokens: n, into: s.gate, bias: nil)
            project(w.up, s.h, tokens: n, into: s.up, bias: nil)
            let ff = c.feedForwardLength
            if c.gelu { VectorOps.geglu(s.gate, s.up, count: n * ff) } else { VectorOps.swiglu(s.gate, s.up, count: n * ff) }
            project(w.down, s.gate, tokens: n, into: s.o, bias: nil)
            if let post = w.postFFNNorm { normRows(s.o, post, into: s.o, rows: n, width: e) }
            VectorOps.add(s.x, s.o, count: n * e)
        }
        cache.advance(by: n)
    }

    private func normRows(_ x: UnsafeMutablePointer<Float>, _ weight: [Float], into y: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
        weight.withUnsafeBufferPointer { w in
            for r in 0..<rows {
                VectorOps.rmsNorm(x + r * width, weight: w.baseAddress!, epsilon: config.rmsEpsilon, count: width, into: y + r * width)
            }
        }
    }

    private func project(_ m: WeightMatrix, _ x: UnsafeMutablePointer<Float>, tokens: Int, into y: UnsafeMutablePointer<Float>, bias: [Float]?) {
        let acts = scratch.activations
        if !m.isFloat {
            pool.parallelFor(tokens) { range in
                for t in range { acts.quantize(x + t * m.columns, into: t * m.columns, count: m.columns, grid: m.activationGrid) }
            }
            if tokens > 1 { acts.regroup(tokens: tokens, columns: m.columns) }
        }
        m.multiply(x, quantized: acts, tokens: tokens, into: y, pool: pool, kernel: kernel)
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

        init(config c: ModelConfig, batch: Int) {
            let e = c.embeddingLength, qDim = c.heads * c.headDim, kvDim = c.kvHeads * c.headDim, ff = c.feedForwardLength
            x = .allocate(capacity: batch * e)
            h = .allocate(capacity: batch * e)
            q = .allocate(capacity: batch * qDim)
            k = .allocate(capacity: batch * kvDim)
            v = .allocate(capacity: batch * kvDim)
            attention = .allocate(capacity: batch * qDim)
            o = .allocate(capacity: batch * e)
            gate = .allocate(capacity: batch * ff)
            up = .allocate(capacity: batch * ff)
            activations = QuantizedActivations(capacity: batch * max(e, qDim, ff))
        }

        deinit {
            for p in [x, h, q, k, v, attention, o, gate, up] { p.deallocate() }
            activations.deallocate()
        }
    }
}
