import GGUF

/// A mixture of experts in place of the dense feed-forward: a router scores every expert for each
/// token, the `used` best run, and their outputs are summed with weights that are the softmax of the
/// chosen experts' scores. (Qwen3-MoE takes the softmax over all experts and divides the chosen ones
/// by their sum, which is the same function.)
public struct ExpertRouting: Sendable, Equatable {
    public var count: Int
    public var used: Int
    /// Each expert's hidden width.
    public var feedForwardLength: Int

    /// Reads `{arch}.expert_count`, `expert_used_count` and `expert_feed_forward_length` (or, as
    /// llama.cpp falls back, the feed-forward length over the experts used).
    init(gguf: GGUFFile, architecture a: String) throws {
        guard let count = try gguf.integer(a + ".expert_count") else { throw ModelError.missingKey(a + ".expert_count") }
        guard let used = try gguf.integer(a + ".expert_used_count") else { throw ModelError.missingKey(a + ".expert_used_count") }
        guard count > 0, used > 0, used <= count, count <= 1024 else {
            throw ModelError.badShape("\(used) experts used of \(count)")
        }
        self.count = count
        self.used = used
        if let width = try gguf.integer(a + ".expert_feed_forward_length") {
            feedForwardLength = width
        } else if let dense = try gguf.integer(a + ".feed_forward_length") {
            feedForwardLength = dense / used
        } else {
            throw ModelError.missingKey(a + ".expert_feed_forward_length")
        }
        guard feedForwardLength > 0 else { throw ModelError.badShape("expert feed-forward length \(feedForwardLength)") }
    }
}
