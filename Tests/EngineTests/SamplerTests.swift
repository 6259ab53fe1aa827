import Testing
@testable import Engine

@Suite struct SamplerTests {
    let logits: [Float] = [1, 3, 2, 0.5, 2.9]

    @Test func greedyTakesTheLargestLogit() {
        var s = Sampler(.greedy)
        #expect(s.sample(logits, history: []) == 1)
    }

    @Test func logitBiasCanBanAToken() {
        var p = SamplingParameters.greedy
        p.logitBias = [1: -.infinity]
        var s = Sampler(p)
        #expect(s.sample(logits, history: []) == 4)
    }

    @Test func repetitionPenaltyLowersRepeatedTokens() {
        var p = SamplingParameters.greedy
        p.repetitionPenalty = 2  // 3 → 1.5, below 2.9
        var s = Sampler(p)
        #expect(s.sample(logits, history: [1]) == 4)
        p.repetitionPenalty = 1
        p.frequencyPenalty = 0.2  // 3 - 0.2 = 2.8, below 2.9
        s = Sampler(p)
        #expect(s.sample(logits, history: [1]) == 4)
        #expect(s.sample(logits, history: [2]) == 1)
    }

    @Test func sameSeedSameTokens() {
        var p = SamplingParameters()
        p.temperature = 1.5
        p.topK = 0
        p.topP = 1
        p.minP = 0
        p.seed = 1234
        var a = Sampler(p), b = Sampler(p)
        let runA = (0..<50).map { _ in a.sample(logits, history: []) }
        let runB = (0..<50).map { _ in b.sample(logits, history: []) }
        #expect(runA == runB)
        #expect(Set(runA).count > 2, "a hot temperature should visit several tokens")
    }

    @Test func topKOneIsGreedy() {
        var p = SamplingParameters()
        p.temperature = 1
        p.topK = 1
        p.seed = 9
        var s = Sampler(p)
        #expect((0..<20).allSatisfy { _ in s.sample(logits, history: []) == 1 })
    }

    @Test func minPDropsUnlikelyTokens() {
        var p = SamplingParameters()
        p.temperature = 1
        p.topK = 0
        p.topP = 1
        p.minP = 0.5  // keeps tokens with at least half the top probability: ids 1 and 4 (e^-0.1 ≈ 0.9)
        p.seed = 3
        var s = Sampler(p)
        let seen = Set((0..<200).map { _ in s.sample(logits, history: []) })
        #expect(seen == [1, 4])
    }

    @Test func stopStringHelpers() {
        #expect(HoldBack.count(in: "hello </", markers: ["</end>"]) == 2)
        #expect(HoldBack.count(in: "hello", markers: ["</end>"]) == 0)
        #expect(HoldBack.count(in: "ab", markers: ["abc", "b"]) == 2)
        #expect(HoldBack.count(in: "x <think", markers: ["<think>"]) == 6)
        let text = "one STOP two"
        let first = Generator.firstStop(in: text, stops: ["two", "STOP"])
        #expect(first?.index == text.range(of: "STOP")!.lowerBound && first?.stop == "STOP")
    }
}
