import Foundation
import Testing
@testable import Engine
@testable import Server

/// The model's scheduler on the tiny model: generations running together give the answers they
/// give alone, a prefix seen before is reused and reported, a consumer that goes away frees its
/// place at once, and the bounded queue refuses the request past its size.
struct BatchSchedulerTests {
    static func run(_ model: ChatModel, _ prompt: [Int32], maxTokens: Int = 12) async throws -> GenerationResult {
        let stream = try model.generate(prompt: prompt, parameters: .greedy, maxTokens: maxTokens, stop: [], logprobs: nil,
                                        loopGuard: false, ignoreEOS: true, grammar: nil)
        for await event in stream { if case .finished(let r) = event { return r } }
        throw CancellationError()
    }

    static func prompt(_ i: Int, length: Int) -> [Int32] { [1] + (0..<length).map { Int32(5 + ($0 * (i + 2) + i) % 200) } }

    @Test func generationsRunningTogetherMatchEachAlone() async throws {
        let model = try TinyChatModel.load(queue: InferenceQueue(threads: 2, maxQueued: 16))
        let prompts = (0..<8).map { Self.prompt($0, length: 5 + 17 * $0) }
        var alone: [[Int32]] = []
        for p in prompts { alone.append(try await Self.run(model, p).tokens) }
        let together = try await withThrowingTaskGroup(of: (Int, [Int32]).self) { group in
            for (i, p) in prompts.enumerated() { group.addTask { (i, try await Self.run(model, p).tokens) } }
            var out = Array(repeating: [Int32](), count: prompts.count)
            for try await (i, tokens) in group { out[i] = tokens }
            return out
        }
        #expect(together == alone)
        #expect(alone.allSatisfy { $0.count == 12 })
    }

    @Test func aKnownPrefixIsReusedAndReported() async throws {
        let model = try TinyChatModel.load(queue: InferenceQueue(threads: 2, maxQueued: 16))
        let system = Self.prompt(1, length: 150)
        let first = try await Self.run(model, system + [7, 8, 9])
        let unrelated = try await Self.run(model, Self.prompt(3, length: 40))
        let second = try await Self.run(model, system + [10, 11])
        #expect(first.reusedPromptTokens == 0)
        #expect(unrelated.reusedPromptTokens <= 1)
        #expect(second.reusedPromptTokens == 151)
    }

    @Test func aConsumerThatGoesAwayFreesItsPlace() async throws {
        let queue = InferenceQueue(threads: 1, maxQueued: 2)
        // Room for a generation far longer than the test waits.
        let model = try TinyChatModel.load(queue: queue, contextLength: 100_000)
        let task = Task {
            let stream = try model.generate(prompt: Self.prompt(0, length: 10), parameters: .greedy, maxTokens: 100_000, stop: [],
                                            logprobs: nil, loopGuard: false, ignoreEOS: true, grammar: nil)
            for await event in stream { if case .text = event { break } }
        }
        try await task.value
        for _ in 0..<100 where queue.queued > 0 || model.activeRequests > 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(queue.queued == 0 && model.activeRequests == 0)
    }

    @Test func theQueueRefusesPastItsSize() async throws {
        let model = try TinyChatModel.load(queue: InferenceQueue(threads: 1, maxQueued: 2))
        var streams: [AsyncStream<GenerationEvent>] = []
        for _ in 0..<2 {
            streams.append(try model.generate(prompt: Self.prompt(0, length: 10), parameters: .greedy, maxTokens: 5_000, stop: [],
                                              logprobs: nil, loopGuard: false, ignoreEOS: true, grammar: nil))
        }
        #expect(throws: APIError.self) {
            _ = try model.generate(prompt: Self.prompt(1, length: 10), parameters: .greedy, maxTokens: 5, stop: [],
                                   logprobs: nil, loopGuard: false, ignoreEOS: true, grammar: nil)
        }
        streams.removeAll()
    }
}
