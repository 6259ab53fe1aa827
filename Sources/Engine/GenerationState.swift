import Foundation
import Tokenizers

/// One generation between forward steps: sampling, the loop guard, stop strings and the text handed
/// out so far. Its owner runs the model; `next` takes the logits after the last token and says which
/// token to run next, or that the generation has ended. Text is handed out as it becomes final: never
/// half a character, and never text that might still turn out to be the start of a stop string.
public struct GenerationState {
    public let tokenizer: Tokenizer
    let maxTokens: Int
    let stop: [String]
    let ignoreEndOfGeneration: Bool
    let logprobs: Int?
    var sampler: Sampler
    var detokenizer: StreamingDetokenizer
    var loopGuard: LoopDetector?
    /// Text not yet handed out, because it may begin a stop string.
    var held = ""
    var history: [Int32]
    var sentLogprobs = 0
    var generationStart = Date()
    public private(set) var result = GenerationResult()
    public private(set) var isFinished = false

    public init(tokenizer: Tokenizer, prompt: [Int32], parameters: SamplingParameters, maxTokens: Int, stop: [String] = [],
                ignoreEndOfGeneration: Bool = false, logprobs: Int? = nil, loopGuard: LoopDetector? = nil, constraint: GrammarConstraint? = nil) {
        self.tokenizer = tokenizer
        self.maxTokens = maxTokens
        self.stop = stop
        self.ignoreEndOfGeneration = ignoreEndOfGeneration
        self.logprobs = logprobs
        self.loopGuard = loopGuard
        var parameters = parameters
        if ignoreEndOfGeneration {
            // As llama.cpp does: end-of-generation tokens are banned rather than passed over.
            for id in tokenizer.vocabulary.endOfGeneration { parameters.logitBias[id] = -.infinity }
        }
        var constraint = constraint
        constraint?.budget = maxTokens
        sampler = Sampler(parameters, grammar: constraint)
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        history = prompt
        result.promptTokens = prompt.count
    }

    /// Records the prompt's processing: `reused` tokens came from the cache, and the request waited
    /// `waited` seconds for a place before it.
    public mutating func promptDone(reused: Int, seconds: Double, waited: Double = 0) {
        result.reusedPromptTokens = reused
        result.promptSeconds = seconds
        result.queueSeconds = waited
        generationStart = Date()
    }

    /// Samples from the logits after the last token and hands out the text that became final.
    /// Returns the token to run next, or nil when the generation ended (the result says why).
    /// `roomForMore`: whether the context can take the token.
    public mutating func next(_ logits: [Float], roomForMore: Bool, onText: (String, [TokenLogprob]) -> Void) -> Int32? {
        precondition(!isFinished)
        guard result.tokens.count < maxTokens else { return end(.length, onText: onText) }
        let token = sampler.sample(logits, history: history)
        if !ignoreEndOfGeneration && tokenizer.vocabulary.endOfGeneration.contains(token) {
            // A grammar closed early for the budget: the reply is whole but cut short.
            return end(sampler.grammar?.isClosing == true ? .length : .stop, onText: onText)
        }
        result.tokens.append(token)
        history.append(token)
        if let count = logprobs { result.logprobs.append(Generator.logprob(of: token, in: logits, top: count)) }
        held += detokenizer.append(token)
        if let cut = Generator.firstStop(in: held, stops: stop) {
            // The text after a stop string is never handed out.
            emit(String(held[..<cut.index]), onText)
            held = ""
            result.finishReason = .stop
            result.stopSequence = cut.stop
            return done()
        }
        if loopGuard?.append(token) != nil { return end(.repetition, onText: onText) }
        let keep = HoldBack.count(in: held, markers: stop)
        emit(String(held.dropLast(keep)), onText)
        held = String(held.suffix(keep))
        guard result.tokens.count < maxTokens, roomForMore else { return end(.length, onText: onText) }
        return token
    }

    /// Ends the generation (`cancelled`, or a full cache) and hands out the text held back.
    public mutating func finish(_ reason: GenerationResult.FinishReason, onText: (String, [TokenLogprob]) -> Void) {
        if !isFinished { _ = end(reason, onText: onText) }
    }

    private mutating func end(_ reason: GenerationResult.FinishReason, onText: (String, [TokenLogprob]) -> Void) -> Int32? {
        result.finishReason = reason
        emit(held + detokenizer.flush(), onText)
        held = ""
        return done()
    }

    private mutating func done() -> Int32? {
        isFinished = true
        result.generationSeconds = Date().timeIntervalSince(generationStart)
        return nil
    }

    private mutating func emit(_ text: String, _ onText: (String, [TokenLogprob]) -> Void) {
        guard !text.isEmpty else { return }
        result.text += text
        onText(text, Array(result.logprobs[sentLogprobs...]))
        sentLogprobs = result.logprobs.count
    }
}
