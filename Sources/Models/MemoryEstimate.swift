import GGUF

/// What loading a model for a context length takes, in bytes: the mapped weights, the KV cache (of
/// the type asked for) for every position of `parallel` sequences, and the per-batch and per-thread
/// scratch (attention weights over the context and a tile's memory for each thread, logits of a batch). Checked before a load so that a context the machine cannot
/// hold is refused with these numbers rather than failing later.
public struct MemoryEstimate: Sendable, Equatable {
    public let weightsBytes: Int64
    public let kvCacheBytes: Int64
    public let scratchBytes: Int64
    /// The model's attention head size (what a KV cache type may require).
    public let headDim: Int

    public var totalBytes: Int64 { weightsBytes + kvCacheBytes + scratchBytes }

    public init(gguf: GGUFFile, contextLength: Int, parallel: Int = 1, kvCacheType: KVCacheType = .f16, threads: Int, batch: Int = 256) throws {
        let vocabulary = gguf.metadata["tokenizer.ggml.tokens"]?.array?.count ?? 0
        let c = try ArchitectureRegistry.config(for: gguf, vocabularySize: vocabulary)
        let context = Int64(contextLength)
        weightsBytes = Int64(gguf.tensors.reduce(0) { $0 + $1.byteCount })
        headDim = c.headDim
        let pages = Int64((contextLength * parallel + KVPagePool.pageSize - 1) / KVPagePool.pageSize)
        kvCacheBytes = 2 * Int64(c.layers) * pages * Int64(KVPagePool.pageSize) * Int64(kvCacheType.rowBytes(c.kvHeads * c.headDim))
        let attention = Transformer.tileFloats(c) + Transformer.partialSlotsPerThread * Transformer.partialFloats(c)
        let scores = Int64(threads) * (2 * context + Int64(attention)) * 4
        let perToken = 4 * c.embeddingLength + 3 * c.heads * c.headDim + 2 * c.kvHeads * c.headDim + 2 * c.feedForwardLength + c.vocabularySize
        // A mixture of experts: router scores, each row's place in its experts' lists, an expert's gathered input and output.
        let perTokenExperts = c.experts.map { 3 * $0.count + 2 * c.embeddingLength + 2 * c.feedForwardLength } ?? 0
        // An encoder's sequence is one step: its rows are the whole context.
        let rows = c.causal ? batch : max(batch, contextLength)
        scratchBytes = scores + Int64(rows + 7) * Int64(perToken + perTokenExperts) * 4
    }
}
