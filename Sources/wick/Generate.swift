import ArgumentParser
import Engine
import Foundation

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate text from a raw prompt, streaming it as it comes.")

    @Option(help: "Path to a GGUF file.") var model: String
    @Option(help: "The prompt, tokenized as a raw completion (BOS when the model asks; special tokens parsed).") var prompt: String
    @Option(name: .short, help: "Tokens to generate.") var n = 128
    @Option(help: "Temperature (0: greedy).") var temp: Float = 0.8
    @Option(help: "Top-k (0: off).") var topK = 40
    @Option(help: "Top-p (1: off).") var topP: Float = 0.95
    @Option(help: "Min-p (0: off).") var minP: Float = 0.05
    @Option(help: "Seed for sampling.") var seed: UInt64?
    @Option(help: "Worker threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Context length.") var contextLength = 4096
    @Flag(help: "Ban end-of-generation tokens and keep going.") var ignoreEos = false
    @Option(help: "With --json: also print the top K log-probabilities of the first generated position.") var logprobs = 0
    @Flag(help: "Print one JSON object at the end instead of streaming.") var json = false

    func run() throws {
        let loaded = try LoadedModel(path: model, threads: threads, sequenceLength: contextLength)
        let promptTokens = loaded.tokenizer.encode(prompt, addSpecial: true, parseSpecial: true)
        guard !promptTokens.isEmpty else { throw ValidationError("the prompt is empty") }
        guard promptTokens.count < contextLength else {
            throw ValidationError("the prompt has \(promptTokens.count) tokens; the context length is \(contextLength)")
        }
        var parameters = SamplingParameters()
        parameters.temperature = temp
        parameters.topK = topK
        parameters.topP = topP
        parameters.minP = minP
        parameters.seed = seed
        let session = Session(transformer: loaded.transformer, contextLength: contextLength)
        let generator = Generator(session: session, tokenizer: loaded.tokenizer)
        let result = generator.generate(prompt: promptTokens, parameters: parameters, maxTokens: min(n, contextLength - promptTokens.count),
                                        ignoreEndOfGeneration: ignoreEos, logprobs: logprobs > 0 ? logprobs : nil, onText: { text, _ in
            if !json { FileHandle.standardOutput.write(Data(text.utf8)) }
        })
        if json {
            var object: [String: Any] = [
                "tokens": result.tokens.map(Int.init), "text": result.text, "prompt_tokens": promptTokens.count,
                "prompt_tokens_per_second": result.promptTokensPerSecond,
                "generation_tokens_per_second": result.generationTokensPerSecond,
            ]
            if logprobs > 0 { object["top_logprobs"] = (result.logprobs.first?.top ?? []).map { [Int($0.id), Double($0.logprob)] } }
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print("")
            FileHandle.standardError.write(Data(String(format: "\nprompt: %d tokens, %.1f tokens/s; generation: %d tokens, %.1f tokens/s\n",
                                                          promptTokens.count, result.promptTokensPerSecond, result.tokens.count,
                                                          result.generationTokensPerSecond).utf8))
        }
    }
}
