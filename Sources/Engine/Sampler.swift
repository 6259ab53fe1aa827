#if canImport(Glibc)
import Glibc
#endif

/// Chooses tokens from logits: a chain of logits processors (penalties, bias, then any constraints
/// such as a grammar), then greedy or temperature sampling through top-k, top-p and min-p filters,
/// with a seeded generator so the same seed gives the same text.
public struct Sampler {
    public let parameters: SamplingParameters
    private var rng: Xoshiro
    private var candidates: [(id: Int32, logit: Float)] = []
    private var processors: [any LogitsProcessor]
    /// The grammar the reply is held to, last in the chain.
    public private(set) var grammar: GrammarConstraint?

    public init(_ parameters: SamplingParameters, grammar: GrammarConstraint? = nil) {
        self.parameters = parameters
        rng = Xoshiro(seed: parameters.seed ?? UInt64.random(in: 0...UInt64.max))
        processors = [RepetitionPenalties(repetition: parameters.repetitionPenalty, presence: parameters.presencePenalty,
                                          frequency: parameters.frequencyPenalty, window: parameters.penaltyWindow),
                      LogitBias(bias: parameters.logitBias)]
        self.grammar = grammar
    }

    /// The next token, given the logits and the tokens so far (prompt and generated).
    public mutating func sample(_ logits: [Float], history: [Int32]) -> Int32 {
        var adjusted = logits
        for i in processors.indices { processors[i].apply(&adjusted, history: history) }
        grammar?.apply(&adjusted, history: history)
        let token = choose(adjusted)
        for i in processors.indices { processors[i].accept(token) }
        grammar?.accept(token)
        return token
    }

    private mutating func choose(_ adjusted: [Float]) -> Int32 {
        let p = parameters

        if p.temperature <= 0 {
            var best = 0
            for i in 1..<adjusted.count where adjusted[i] > adjusted[best] { best = i }
            return Int32(best)
        }

        candidates.removeAll(keepingCapacity: true)
        for (i, l) in adjusted.enumerated() where l > -Float.infinity { candidates.append((Int32(i), l)) }
        guard !candidates.isEmpty else { return 0 }
        candidates.sort { $0.logit > $1.logit }
        if p.topK > 0 && candidates.count > p.topK { candidates.removeLast(candidates.count - p.topK) }

        // Probabilities at the given temperature.
        let maxLogit = candidates[0].logit
        var probs = candidates.map { expf(($0.logit - maxLogit) / p.temperature) }
        var total = probs.reduce(0, +)
        if p.topP < 1 {
            var cumulative: Float = 0
            var keep = probs.count
            for (i, q) in probs.enumerated() {
                cumulative += q / total
                if cumulative >= p.topP { keep = i + 1; break }
            }
            probs.removeLast(probs.count - keep)
            candidates.removeLast(candidates.count - keep)
        }
        if p.minP > 0 {
            let threshold = probs[0] * p.minP
            let keep = probs.firstIndex { $0 < threshold } ?? probs.count
            probs.removeLast(probs.count - keep)
            candidates.removeLast(candidates.count - keep)
        }
        total = probs.reduce(0, +)
        var r = Float(Double(rng.next() >> 11) / Double(1 << 53)) * total
        for (i, q) in probs.enumerated() {
            r -= q
            if r <= 0 { return candidates[i].id }
        }
        return candidates[candidates.count - 1].id
    }
}

/// xoshiro256** seeded through SplitMix64: small, fast and reproducible across platforms.
struct Xoshiro: RandomNumberGenerator {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }
}
