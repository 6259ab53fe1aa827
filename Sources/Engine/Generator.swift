import Foundation
import Models
import Tokenizers

/// What a generation produced and how fast.
public struct GenerationResult: Sendable {
    /// `repetition`: stopped by the loop guard (a client sees `stop`).
    public enum FinishReason: String, Sendable { case stop, length, cancelled, repetition }
    public var tokens: [Int32] = []
    public var text = ""
    public var finishReason: FinishReason = .length
    /// The stop string that ended the generation, if one did.
    public var stopSequence: String?
    public var promptTokens = 0
    public var reusedPromptTokens = 0
    /// Seconds the request waited for a place before its prompt was processed.
    public var queueSeconds: Double = 0
    public var promptSeconds: Double = 0
    public var generationSeconds: Double = 0
    /// Each generated token's log-probability and its most likely alternatives, when asked for.
    public var logprobs: [TokenLogprob] = []

    public var promptTokensPerSecond: Double {
        promptSeconds > 0 ? Double(promptTokens - reusedPromptTokens) / promptSeconds : 0
    }
    public var generationTokensPerSecond: Double {
        generationSeconds > 0 ? Double(tokens.count) / generationSeconds : 0
    }
}

/// A generated token's log-probability under the model, with the most likely tokens at its position.
public struct TokenLogprob: Sendable {
    public var id: Int32
    public var logprob: Float
    public var top: [(id: Int32, logprob: Float)]
}

/// Runs the prompt, then samples tokens until an end-of-generation token, a stop string, the
/// token limit or the end of the context, on one `Session` (the server steps many sequences at once
/// with the same `GenerationState`).
public struct Generator {
    public let session: Session
    public let tokenizer: Tokenizer

    public init(session: Session, tokenizer: Tokenizer) {
        self.session = session
        self.tokenizer = tokenizer
    }

    public func generate(prompt: [Int32], parameters: SamplingParameters, maxTokens: Int, stop: [String] = [],
                         ignoreEndOfGeneration: Bool = false, logprobs: Int? = nil, loopGuard: LoopDetector? = nil,
                         constraint: GrammarConstraint? = nil,
                         isCancelled: () -> Bool = { false },
                         onText: (String, [TokenLogprob]) -> Void = { _, _ in }) -> GenerationResult {
        var state = GenerationState(tokenizer: tokenizer, prompt: prompt, parameters: parameters, maxTokens: maxTokens, stop: stop,
                                    ignoreEndOfGeneration: ignoreEndOfGeneration, logprobs: logprobs, loopGuard: loopGuard,
                                    constraint: constraint)
        let start = Date()
        var (logits, reused) = session.prefill(prompt)
        state.promptDone(reused: reused, seconds: Date().timeIntervalSince(start))
        while true {
            if isCancelled() {
                state.finish(.cancelled, onText: onText)
                break
            }
            guard let token = state.next(logits, roomForMore: session.tokens.count < session.contextLength, onText: onText) else { break }
            logits = session.append(token)
        }
        return state.result
    }

    /// `token`'s log-probability in `logits` and the `count` most likely tokens with theirs.
    public static func logprob(of token: Int32, in logits: [Float], top count: Int) -> TokenLogprob {
        let maxLogit = logits.max() ?? 0
        var sum: Double = 0
        for l in logits { sum += Double(expf(l - maxLogit)) }
        let logSum = Float(log(sum)) + maxLogit
        var top: [(id: Int32, logprob: Float)] = []
        if count > 0 {
            var best = logits.indices.prefix(count).sorted { logits[$0] > logits[$1] }
            for i in logits.indices.dropFirst(count) where logits[i] > logits[best[best.count - 1]] {
                let at = best.firstIndex { logits[$0] < logits[i] }!
                best.insert(i, at: at)
                best.removeLast()
            }
            top = best.map { (Int32($0), logits[$0] - logSum) }
        }
        return TokenLogprob(id: token, logprob: logits[Int(token)] - logSum, top: top)
    }

    /// The earliest stop string in `text`: where it begins, and which it is.
    static func firstStop(in text: String, stops: [String]) -> (index: String.Index, stop: String)? {
        stops.compactMap { s in s.isEmpty ? nil : text.range(of: s).map { ($0.lowerBound, s) } }.min { $0.0 < $1.0 }
    }
}
