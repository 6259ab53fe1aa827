import ArgumentParser
import Engine
import Foundation
import Kernels
import Models

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure prompt processing and generation speed, like llama-bench.")

    @Option(help: "Path to a GGUF file.") var model: String
    @Option(name: .short, help: "Prompt tokens to process (0: skip).") var p = 512
    @Option(name: .short, help: "Tokens to generate (0: skip).") var n = 128
    @Option(help: "Fill the cache to this depth before each test.") var depth = 0
    @Option(help: "How keys and values are stored: f16 or q8_0.") var kvCacheType: KVCacheType = .f16
    @Option(help: "Sequences run together in each step (as llama-batched-bench's -npl); rates are their total.") var parallel = 1
    @Option(help: "Worker threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(name: .short, help: "Repetitions.") var r = 3
    @Flag(help: "Print JSON.") var json = false

    struct Result: Encodable {
        let test: String
        let tokensPerSecond: Double
        let stddev: Double
    }

    /// Generation's ceiling where reading the weights is the whole cost: the machine's read
    /// bandwidth over the bytes of weights one token reads.
    struct GenerationCeiling: Encodable {
        let weightBytesPerToken: Int
        let readBytesPerSecond: Double
        let tokensPerSecond: Double

        init(weightBytesPerToken: Int, readBytesPerSecond: Double) {
            self.weightBytesPerToken = weightBytesPerToken
            self.readBytesPerSecond = readBytesPerSecond
            tokensPerSecond = readBytesPerSecond / Double(max(weightBytesPerToken, 1))
        }
    }

    func validate() throws {
        guard parallel >= 1 else { throw ValidationError("--parallel must be at least 1") }
    }

    func run() throws {
        let length = depth + max(p, 0) + max(n, 0) + 1
        let loaded = try LoadedModel(path: model, threads: threads, sequenceLength: length)
        let transformer = loaded.transformer
        let vocabulary = Int32(loaded.tokenizer.vocabulary.count)
        guard kvCacheType.supports(headDim: transformer.config.headDim) else {
            throw ValidationError("a \(kvCacheType.rawValue) KV cache needs a head size that is a multiple of 32 (this model's: \(transformer.config.headDim))")
        }
        let pool = transformer.makePagePool(positions: length * parallel, type: kvCacheType)
        let caches = (0..<parallel).map { _ in KVCache(pool: pool, capacity: length) }
        // Random tokens, as llama-bench uses: the speed does not depend on the text.
        var rng = SystemRandomNumberGenerator()
        func tokens(_ count: Int) -> [Int32] { (0..<count).map { _ in Int32.random(in: 0..<vocabulary, using: &rng) } }
        /// Runs `count` tokens on every sequence: steps of up to the batch capacity shared evenly.
        func feed(_ count: Int) {
            let prompts = caches.map { _ in tokens(count) }
            let share = max(1, transformer.batchCapacity / parallel)
            var done = 0
            while done < count {
                let m = min(share, count - done)
                _ = transformer.forward(batch: caches.indices.map { .init(cache: caches[$0], tokens: prompts[$0][done..<(done + m)], wantsLogits: done + m == count) })
                done += m
            }
        }
        func prepare() {
            for cache in caches { cache.truncate(to: 0) }
            if depth > 0 { feed(depth) }
        }
        func measure(_ name: String, tokenCount: Int, _ body: () -> Void) -> Result {
            var rates: [Double] = []
            for _ in 0..<max(r, 1) {
                prepare()
                let start = Date()
                body()
                rates.append(Double(tokenCount * parallel) / Date().timeIntervalSince(start))
            }
            let mean = rates.reduce(0, +) / Double(rates.count)
            let sd = rates.count > 1 ? (rates.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(rates.count - 1)).squareRoot() : 0
            return Result(test: name + (depth > 0 ? " @ d\(depth)" : "") + (parallel > 1 ? " x\(parallel)" : ""), tokensPerSecond: mean, stddev: sd)
        }

        // One warm-up pass maps the weights in.
        prepare()
        feed(8)

        var results: [Result] = []
        if p > 0 {
            results.append(measure("pp\(p)", tokenCount: p) { feed(p) })
        }
        if n > 0 {
            results.append(measure("tg\(n)", tokenCount: n) {
                for _ in 0..<n { feed(1) }
            })
        }
        // Measured after the tests, so its large buffer does not evict anything they use.
        let ceiling = n > 0 && depth == 0 && parallel == 1
            ? GenerationCeiling(weightBytesPerToken: transformer.weightBytesPerToken, readBytesPerSecond: MemoryBandwidth.read(pool: transformer.pool))
            : nil
        let name = URL(fileURLWithPath: model).lastPathComponent
        if json {
            struct Report: Encodable { let model: String; let threads: Int; let results: [Result]; let generationCeiling: GenerationCeiling? }
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.sortedKeys]
            let report = Report(model: name, threads: transformer.pool.count, results: results, generationCeiling: ceiling)
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print("model: \(name)  threads: \(transformer.pool.count)  kernel: \(transformer.kernel.name)")
            for r in results { print(String(format: "%-16@ %10.2f ± %.2f tokens/s", r.test as NSString, r.tokensPerSecond, r.stddev)) }
            if let ceiling {
                print(String(format: "generation reads %.1f MB of weights per token; memory reads %.1f GB/s on %d threads: at most %.2f tokens/s",
                             Double(ceiling.weightBytesPerToken) / 1e6, ceiling.readBytesPerSecond / 1e9, transformer.pool.count, ceiling.tokensPerSecond))
            }
        }
    }
}
