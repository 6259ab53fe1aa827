import Engine
import Foundation
import GGUF
import Models
import Testing
import Tokenizers

/// Continuous batching on the real models: sequences generating together in one step per token
/// produce the tokens each produces alone. (The batched rows take the multi-token matrix kernels,
/// whose sums are folded in another order: logits agree to float rounding, greedy tokens exactly.)
@Suite struct BatchedGenerationTests {
    static let prompts = [
        "The capital of France is", "def fibonacci(n):", "Water boils at a temperature of",
        "List three colors:\n1.", "The quick brown fox", "SELECT name FROM users WHERE",
        "Once upon a time, in a small village near the mountains, there lived an old clockmaker who",
        "import numpy as np\nx = np.arange(10)\nprint(",
    ]

    /// Greedy tokens of each prompt run alone.
    func alone(_ transformer: Transformer, _ prompts: [[Int32]], tokens: Int, type: KVCacheType) -> [[Int32]] {
        prompts.map { prompt in
            let session = Session(transformer: transformer, contextLength: 256, kvCacheType: type)
            var logits = session.prefill(prompt).logits
            var out: [Int32] = []
            for _ in 0..<tokens {
                let t = Int32(logits.indices.max { logits[$0] < logits[$1] }!)
                out.append(t)
                logits = session.append(t)
            }
            return out
        }
    }

    @Test(arguments: TestModels.all, KVCacheType.allCases)
    func sequencesGeneratingTogetherMatchEachAlone(model: String, type: KVCacheType) throws {
        let file = try TestModels.open(model)
        let tokenizer = try Tokenizer(gguf: file)
        let transformer = try Transformer(gguf: file, vocabularySize: tokenizer.vocabulary.count)
        // q8_0 keys need head sizes in blocks of 32 (the service refuses the others with a 400).
        guard type.supports(headDim: transformer.config.headDim) else { return }
        let prompts = Self.prompts.map { tokenizer.encode($0, addSpecial: true) }
        let steps = 12
        let expected = alone(transformer, prompts, tokens: steps, type: type)

        for count in [1, 2, 3, 8] {
            let pool = transformer.makePagePool(positions: 256 * count, type: type)
            let caches = (0..<count).map { _ in KVCache(pool: pool, capacity: 256) }
            // The prompts go in together as one batch of chunks, then one token each per step.
            var logits = transformer.forward(batch: (0..<count).map { .init(cache: caches[$0], tokens: prompts[$0][...]) })
            var produced = Array(repeating: [Int32](), count: count)
            for _ in 0..<steps {
                let next = logits.map { l in Int32(l.indices.max { l[$0] < l[$1] }!) }
                for i in 0..<count { produced[i].append(next[i]) }
                logits = transformer.forward(batch: (0..<count).map { .init(cache: caches[$0], tokens: [next[$0]]) })
            }
            for i in 0..<count {
                #expect(produced[i] == expected[i], "\(model) (\(type.rawValue)): sequence \(i) of \(count) diverged: \(tokenizer.decode(produced[i])) vs \(tokenizer.decode(expected[i]))")
            }
        }
    }
}
