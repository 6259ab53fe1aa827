import Engine
import Foundation
import GGUF
import Models
import Testing
import Tokenizers

/// Greedy continuations and first-position log-probabilities compared with llama.cpp's
/// (scripts/make-generation-fixtures). Runs in the release build (scripts/test).
@Suite(.serialized) struct GenerationGoldenTests {
    struct Golden: Decodable {
        struct Case: Decodable {
            let prompt_tokens: [Int32]
            let tokens: [Int32]
            /// Per generated position: [[token id, log-probability], …], most likely first.
            let top: [[[Double]]]
        }
        let prompts: [String]
        let models: [String: [Case]]
    }

    static let golden: Golden? = try? JSONDecoder().decode(Golden.self, from: TestModels.fixture("generation-golden.json"))

    /// Largest gap in llama.cpp's own log-probabilities between its token and ours where a greedy
    /// continuation may part ways. Int8 activation blocks make logits sensitive to rounding when a
    /// model has massive activations: Wick's own portable and AVX2 paths, which agree to 1e-7 per dot
    /// product, differ by up to ~0.5 in SmolLM's logits. A wrong kernel or layer moves them by far more.
    static let nearTie = 1.0

    @Test(arguments: TestModels.real)
    func greedyContinuationsMatchLlamaCpp(model: String) throws {
        try compareWithLlamaCpp(model)
    }

    /// The tiny random-weight models of the architectures and features no package ships a file of.
    @Test(arguments: TestModels.tiny)
    func tinyModelsMatchLlamaCpp(model: String) throws {
        try compareWithLlamaCpp(model)
    }

    func compareWithLlamaCpp(_ model: String) throws {
        let golden = try #require(Self.golden)
        let cases = try #require(golden.models[model])
        #expect(cases.count >= 15)
        let file = try TestModels.open(model)
        let tokenizer = try Tokenizer(gguf: file)
        let transformer = try Transformer(gguf: file, vocabularySize: tokenizer.vocabulary.count)
        let session = Session(transformer: transformer, contextLength: 512)
        let generator = Generator(session: session, tokenizer: tokenizer)
        var identical = 0
        var relativeErrors: [Double] = []
        for (prompt, c) in zip(golden.prompts, cases) {
            #expect(tokenizer.encode(prompt, addSpecial: true, parseSpecial: true) == c.prompt_tokens, "\(model): prompt tokens")
            session.reset()
            let result = generator.generate(prompt: c.prompt_tokens, parameters: .greedy, maxTokens: c.tokens.count,
                                            ignoreEndOfGeneration: true, logprobs: 20)
            // First position: log-probabilities of llama.cpp's top tokens.
            let ours = Dictionary(uniqueKeysWithValues: try #require(result.logprobs.first).top.map { (Int($0.id), Double($0.logprob)) })
            let reference = c.top[0]
            var diff2 = 0.0, ref2 = 0.0
            for entry in reference {
                let theirs = entry[1]
                let mine = try #require(ours[Int(entry[0])], "\(model): llama.cpp's top token \(Int(entry[0])) is not in Wick's top 20")
                diff2 += (mine - theirs) * (mine - theirs)
                ref2 += theirs * theirs
            }
            relativeErrors.append((diff2 / ref2).squareRoot())

            guard let i = result.tokens.indices.first(where: { $0 >= c.tokens.count || result.tokens[$0] != c.tokens[$0] }) else {
                #expect(result.tokens.count == c.tokens.count)
                identical += 1
                continue
            }
            // Where the continuations part, both tokens must be near-tied in llama.cpp's own distribution.
            let top = Dictionary(uniqueKeysWithValues: c.top[i].map { (Int32($0[0]), $0[1]) })
            let theirs = try #require(top[c.tokens[i]])
            let mine = top[result.tokens[i]]
            #expect(mine != nil && theirs - mine! <= Self.nearTie,
                    "\(model) \(prompt.debugDescription.prefix(40)): diverged at \(i), Wick \(result.tokens[i]) (\(mine.map { String($0) } ?? "not in top")) vs llama.cpp \(c.tokens[i]) (\(theirs))")
        }
        let meanError = relativeErrors.reduce(0, +) / Double(relativeErrors.count)
        print("\(model): \(identical)/\(cases.count) continuations identical; first-position log-prob error mean \(meanError), max \(relativeErrors.max()!)")
        // A coarse floor: a broken layer leaves no continuation identical. SmolLM's many near-ties flip
        // with summation order (5 to 8 of 18 identical between equally exact attention kernels), so the
        // near-tie check above is the precise one.
        #expect(identical * 6 >= cases.count, "\(model): too few identical continuations")
        #expect(meanError < 0.06, "\(model): first-position log-probabilities too far from llama.cpp's")
    }

    @Test func qwenAnswersAQuestionWithItsChatFormat() throws {
        let file = try TestModels.open(TestModels.qwen)
        let tokenizer = try Tokenizer(gguf: file)
        let transformer = try Transformer(gguf: file, vocabularySize: tokenizer.vocabulary.count)
        let generator = Generator(session: Session(transformer: transformer, contextLength: 512), tokenizer: tokenizer)
        let prompt = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is the capital of France? Answer in one word.<|im_end|>\n<|im_start|>assistant\n"
        let result = generator.generate(prompt: tokenizer.encode(prompt, addSpecial: true, parseSpecial: true),
                                        parameters: .greedy, maxTokens: 16)
        #expect(result.text.contains("Paris"))
        #expect(result.finishReason == .stop)
    }

    @Test func stopStringsEndGenerationWithoutTheirText() throws {
        let file = try TestModels.open(TestModels.smollm)
        let tokenizer = try Tokenizer(gguf: file)
        let transformer = try Transformer(gguf: file, vocabularySize: tokenizer.vocabulary.count)
        let generator = Generator(session: Session(transformer: transformer, contextLength: 256), tokenizer: tokenizer)
        let prompt = tokenizer.encode("List of planets in the solar system:\n1.", addSpecial: true)
        let full = generator.generate(prompt: prompt, parameters: .greedy, maxTokens: 24)
        let stop = try #require(full.text.range(of: "\n")).lowerBound
        var streamed = ""
        let cut = generator.generate(prompt: prompt, parameters: .greedy, maxTokens: 24, stop: ["\n"], onText: { text, _ in streamed += text })
        #expect(cut.text == String(full.text[..<stop]))
        #expect(streamed == cut.text)
        #expect(cut.finishReason == .stop)
    }

    @Test func prefixReuseGivesTheSameLogits() throws {
        let file = try TestModels.open(TestModels.qwen)
        let tokenizer = try Tokenizer(gguf: file)
        let transformer = try Transformer(gguf: file, vocabularySize: tokenizer.vocabulary.count)
        let session = Session(transformer: transformer, contextLength: 256)
        let a = tokenizer.encode("The quick brown fox jumps over the lazy dog. The dog sleeps.")
        let b = tokenizer.encode("The quick brown fox jumps over the lazy dog. The cat runs.")
        _ = session.prefill(a)
        let (reusedLogits, reused) = session.prefill(b)
        let fresh = Session(transformer: transformer, contextLength: 256)
        let (freshLogits, none) = fresh.prefill(b)
        #expect(none == 0)
        #expect(reused > 8)
        let maxDiff = zip(reusedLogits, freshLogits).map { abs($0 - $1) }.max()!
        #expect(maxDiff < 1e-3)
    }
}
