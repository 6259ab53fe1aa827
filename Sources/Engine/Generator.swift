import Foundation
import Models
import Tokenizers

/// What a generation produced and how fast.
public struct GenerationResult: Sendable {
    public enum FinishReason: String, Sendable { case stop, length, cancelled }
    public var tokens: [Int32] = []
    public var text = ""
    public var finishReason: FinishReason = .length
    public var promptTokens = 0
    public var reusedPromptTokens = 0
    public var promptSeconds: Double = 0
    public var generationSeconds: Double = 0
    /// The most likely first tokens after the prompt, when asked for.
    public var firstTopLogprobs: [(id: Int32, logprob: Float)] = []

    public var promptTokensPerSecond: Double {
        promptSeconds > 0 ? Double(promptTokens - reusedPromptTokens) / promptSeconds : 0
    }
    public var generationTokensPerSecond: Double {
        generationSeconds > 0 ? Double(tokens.count) / generationSeconds : 0
    }
}

/// Runs the prompt, then samples tokens until an end-of-generation token, a stop string, the
/// token limit or the end of the context. Text is handed out as it becomes final: never half a
/// character, and never text that might still turn out to be the start of a stop string.
public struct Generator {
    public let session: Session
    public let tokenizer: Tokenizer

    public init(session: Session, tokenizer: Tokenizer) {
        self.session = session
        self.tokenizer = tokenizer
    }

    public func generate(prompt: [Int32], parameters: SamplingParameters, maxTokens: Int, stop: [String] = [],
                         ignoreEndOfGeneration: Bool = false, topLogprobs: Int = 0,
                         isCancelled: () -> Bool = { false },
                         onText: (String) -> Void = { _ in }) -> GenerationResult {
        var result = GenerationResult()
        result.promptTokens = prompt.count
        var parameters = parameters
        if ignoreEndOfGeneration {
            // As llama.cpp does: end-of-generation tokens are banned rather than passed over.
            for id in tokenizer.vocabulary.endOfGeneration { parameters.logitBias[id] = -.infinity }
        }
        var sampler = Sampler(parameters)
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        var held = ""  // text not yet handed out, because it may begin a stop string

        let start = Date()
        var (logits, reused) = session.prefill(prompt)
        result.reusedPromptTokens = reused
        let afterPrompt = Date()
        result.promptSeconds = afterPrompt.timeIntervalSince(start)

        if topLogprobs > 0 { result.firstTopLogprobs = Self.topLogprobs(logits, count: topLogprobs) }
        var history = prompt
        var stoppedByString = false
        generation: while result.tokens.count < maxTokens {
            if isCancelled() {
                result.finishReason = .cancelled
                break
            }
            let token = sampler.sample(logits, history: history)
            if !ignoreEndOfGeneration && tokenizer.vocabulary.endOfGeneration.contains(token) {
                result.finishReason = .stop
                break
            }
            result.tokens.append(token)
            history.append(token)
            held += detokenizer.append(token)
            if let cut = Self.firstStop(in: held, stops: stop) {
                let final = String(held[..<cut])
                result.text += final
                onText(final)
                held = ""
                result.finishReason = .stop
                stoppedByString = true
                break generation
            }
            let keep = Self.longestStopPrefixSuffix(held, stops: stop)
            let ready = String(held.dropLast(keep))
            if !ready.isEmpty {
                result.text += ready
                onText(ready)
                held = String(held.suffix(keep))
            }
            guard result.tokens.count < maxTokens, session.tokens.count < session.contextLength else { break }
            logits = session.append(token)
        }
        if !stoppedByString {
            let rest = held + detokenizer.flush()
            if !rest.isEmpty {
                result.text += rest
                onText(rest)
            }
        }
        result.generationSeconds = Date().timeIntervalSince(afterPrompt)
        return result
    }

    /// The `count` most likely tokens and their log-probabilities.
    public static func topLogprobs(_ logits: [Float], count: Int) -> [(id: Int32, logprob: Float)] {
        let maxLogit = logits.max() ?? 0
        var sum: Double = 0
        for l in logits { sum += Double(expf(l - maxLogit)) }
        let logSum = Float(log(sum)) + maxLogit
        let top = logits.indices.sorted { logits[$0] > logits[$1] }.prefix(count)
        return top.map { (Int32($0), logits[$0] - logSum) }
    }

    static func firstStop(in text: String, stops: [String]) -> String.Index? {
        stops.compactMap { $0.isEmpty ? nil : text.range(of: $0)?.lowerBound }.min()
    }

    /// Length (in characters) of the longest end of `text` that is a proper beginning of a stop string.
    static func longestStopPrefixSuffix(_ text: String, stops: [String]) -> Int {
        var best = 0
        for stop in stops where !stop.isEmpty {
            for n in stride(from: min(stop.count - 1, text.count), to: best, by: -1) where text.hasSuffix(stop.prefix(n)) {
                best = n
                break
            }
        }
        return best
    }
}
