import Foundation
import GGUF
import Testing
@testable import Models

/// The expert feed-forward: routing, gathering each expert's rows and summing the weighted outputs.
@Suite struct MixtureOfExpertsTests {
    /// Qwen3's attention (per-head norms) over the tiny Llama's tensors.
    static func tinyQwen3(experts: (count: Int, used: Int)? = nil, identicalExperts: Bool = false) -> GGUFWriter {
        var w = ModelLoadingErrorTests.tinyLlama(architecture: experts == nil ? "qwen3" : "qwen3moe", kvHeads: 2,
                                                 experts: experts, identicalExperts: identicalExperts)
        for l in 0..<2 {
            for name in ["attn_q_norm.weight", "attn_k_norm.weight"] {
                w.addTensor("blk.\(l).\(name)", dimensions: [16], floats: (0..<16).map { 1 + Float($0 % 5) / 10 })
            }
        }
        return w
    }

    static func load(_ w: GGUFWriter) throws -> Transformer {
        try Transformer(gguf: GGUFFile(data: w.bytes()), vocabularySize: 8, threads: 2, batchCapacity: 64)
    }

    /// Experts that are all the dense feed-forward, with weights summing to one, are the dense
    /// feed-forward: whatever the router chooses, a prompt and each generated token give the dense
    /// model's logits. A row gathered from or added to the wrong place, or weights that do not sum
    /// to one, break this.
    @Test(arguments: [(4, 2), (6, 1), (3, 3)]) func identicalExpertsAreTheDenseFeedForward(count: Int, used: Int) throws {
        let dense = try Self.load(Self.tinyQwen3())
        let mixture = try Self.load(Self.tinyQwen3(experts: (count, used), identicalExperts: true))
        #expect(mixture.config.experts?.count == count && mixture.config.experts?.used == used)
        let a = dense.makeCache(contextLength: 40), b = mixture.makeCache(contextLength: 40)
        let prompt: [Int32] = (0..<19).map { Int32($0 * 5 % 8) }
        var pairs = [(dense.forward(prompt, cache: a, logits: .all), mixture.forward(prompt, cache: b, logits: .all))]
        for t: Int32 in [3, 6, 1] { pairs.append((dense.forward([t], cache: a), mixture.forward([t], cache: b))) }
        for (x, y) in pairs {
            let scale = x.map { abs($0) }.max() ?? 1
            let diff = zip(x, y).map { abs($0 - $1) }.max() ?? .infinity
            #expect(x.count == y.count && diff <= 1e-4 * scale, "differ by \(diff)")
        }
    }

    /// Distinct experts: the choice matters (the logits differ from any single expert's), and a
    /// sequence's tokens come out the same in one batch as one at a time.
    @Test func distinctExpertsBatchEqualsSteps() throws {
        let model = try Self.load(Self.tinyQwen3(experts: (5, 2)))
        let tokens: [Int32] = (0..<21).map { Int32($0 * 3 % 8) }
        let all = model.forward(tokens, cache: model.makeCache(contextLength: 32), logits: .all)
        let stepped = model.makeCache(contextLength: 32)
        for (i, t) in tokens.enumerated() {
            let one = model.forward([t], cache: stepped)
            let scale = one.map { abs($0) }.max() ?? 1
            let diff = zip(one, all[(i * 8)..<(i * 8 + 8)]).map { abs($0 - $1) }.max() ?? .infinity
            #expect(diff <= 5e-3 * scale, "position \(i): batch and step differ by \(diff)")
        }
        let single = try Self.load(Self.tinyQwen3(experts: (5, 1)))
        let other = single.forward(tokens, cache: single.makeCache(contextLength: 32))
        #expect(zip(other, all.suffix(8)).contains { abs($0 - $1) > 1e-2 })
    }

    /// Each row's best experts, the lower index on a tie, weighted by the softmax of their scores.
    @Test func routingChoosesTheBestExpertsWithSoftmaxWeights() throws {
        let config = try Self.load(Self.tinyQwen3(experts: (4, 2))).config
        let routing = try #require(config.experts)
        let scratch = Transformer.ExpertScratch(routing: routing, embedding: 32, capacity: 3)
        let scores: [Float] = [0.5, 2, -1, 1,   3, 3, 3, 0,   .nan, 1, 2, .nan]
        for (i, s) in scores.enumerated() { scratch.logits[i] = s }
        scratch.route(rows: 3, routing: routing)
        func listed(_ expert: Int) -> [(Int32, Float)] {
            (0..<scratch.counts[expert]).map { (scratch.rows[expert * 3 + $0], scratch.weights[expert * 3 + $0]) }
        }
        let e1 = 1 / (1 + expf(-1))
        #expect(listed(0).map(\.0) == [1] && listed(1).map(\.0) == [0, 1, 2] && listed(2).map(\.0) == [2] && listed(3).map(\.0) == [0])
        #expect(abs(listed(1)[0].1 - e1) < 1e-6 && abs(listed(3)[0].1 - (1 - e1)) < 1e-6)
        #expect(abs(listed(0)[0].1 - 0.5) < 1e-6 && abs(listed(1)[1].1 - 0.5) < 1e-6)
        // NaN scores are never preferred; the row still gets its experts and finite weights.
        #expect(abs(listed(2)[0].1 - e1) < 1e-6 && abs(listed(1)[2].1 - (1 - e1)) < 1e-6)
    }

    @Test func missingExpertKeysAndShapesAreErrors() throws {
        var noUsed = Self.tinyQwen3(experts: (4, 2))
        noUsed.set("qwen3moe.expert_used_count", .uint32(0))
        #expect(throws: ModelError.badShape("0 experts used of 4")) { try Self.load(noUsed) }
        var tooMany = Self.tinyQwen3(experts: (4, 2))
        tooMany.set("qwen3moe.expert_used_count", .uint32(5))
        #expect(throws: ModelError.badShape("5 experts used of 4")) { try Self.load(tooMany) }
        var noCount = Self.tinyQwen3(experts: (4, 2))
        noCount.set("qwen3moe.expert_count", .uint32(3))
        #expect(throws: ModelError.self) { try Self.load(noCount) }
    }
}
