import Models

/// One sequence's state: its KV cache and the tokens in it. Between requests the cache is kept,
/// and a new prompt reuses the longest prefix it shares with what the cache holds (or with pages
/// of the cache's pool that other sequences registered).
public final class Session: @unchecked Sendable {
    public let transformer: Transformer
    public let cache: KVCache

    public init(transformer: Transformer, contextLength: Int, kvCacheType: KVCacheType = .f16) {
        self.transformer = transformer
        cache = transformer.makeCache(contextLength: contextLength, type: kvCacheType)
    }

    public var contextLength: Int { cache.capacity }
    public var tokens: [Int32] { cache.tokens }

    /// Makes the cache hold `prompt` and returns the logits after its last token and how many
    /// prompt tokens were reused from the cache instead of being computed again.
    public func prefill(_ prompt: [Int32]) -> (logits: [Float], reused: Int) {
        precondition(!prompt.isEmpty && prompt.count <= cache.capacity)
        // At least the last prompt token is computed again, for its logits.
        let reused = cache.reuse(prompt, limit: prompt.count - 1)
        let logits = transformer.forward(Array(prompt[reused...]), cache: cache)
        return (logits, reused)
    }

    /// Appends one token and returns the logits after it.
    public func append(_ token: Int32) -> [Float] {
        precondition(cache.count < cache.capacity, "context is full")
        return transformer.forward([token], cache: cache)
    }

    public func reset() {
        cache.truncate(to: 0)
    }
}
