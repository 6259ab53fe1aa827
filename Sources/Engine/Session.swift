import Models

/// One sequence's state: its KV cache and the tokens in it. Between requests the cache is kept,
/// and a new prompt reuses the longest prefix it shares with what the cache holds.
public final class Session: @unchecked Sendable {
    public let transformer: Transformer
    public let cache: KVCache
    public private(set) var tokens: [Int32] = []

    public init(transformer: Transformer, contextLength: Int) {
        self.transformer = transformer
        cache = transformer.makeCache(contextLength: contextLength)
    }

    public var contextLength: Int { cache.capacity }

    /// Makes the cache hold `prompt` and returns the logits after its last token and how many
    /// prompt tokens were reused from the cache instead of being computed again.
    public func prefill(_ prompt: [Int32]) -> (logits: [Float], reused: Int) {
        precondition(!prompt.isEmpty && prompt.count <= cache.capacity)
        var common = 0
        while common < min(prompt.count, tokens.count) && prompt[common] == tokens[common] { common += 1 }
        // At least the last prompt token is computed again, for its logits.
        let reused = min(common, prompt.count - 1)
        cache.truncate(to: reused)
        tokens = Array(prompt[..<reused])
        let logits = transformer.forward(Array(prompt[reused...]), cache: cache)
        tokens = prompt
        return (logits, reused)
    }

    /// Appends one token and returns the logits after it.
    public func append(_ token: Int32) -> [Float] {
        precondition(tokens.count < cache.capacity, "context is full")
        let logits = transformer.forward([token], cache: cache)
        tokens.append(token)
        return logits
    }

    public func reset() {
        cache.truncate(to: 0)
        tokens = []
    }
}
