/// How the next token is chosen. Defaults match llama.cpp's where the OpenAI API is silent.
public struct SamplingParameters: Sendable, Equatable {
    /// 0 means greedy (always the most likely token).
    public var temperature: Float = 0.8
    /// 0 disables top-k.
    public var topK: Int = 40
    /// 1 disables top-p.
    public var topP: Float = 0.95
    /// 0 disables min-p.
    public var minP: Float = 0.05
    /// 1 disables the repetition penalty.
    public var repetitionPenalty: Float = 1
    public var presencePenalty: Float = 0
    public var frequencyPenalty: Float = 0
    /// How many recent tokens the penalties look at.
    public var penaltyWindow: Int = 64
    /// Added to the logits of the given tokens (-infinity bans a token).
    public var logitBias: [Int32: Float] = [:]
    public var seed: UInt64?

    public init() {}

    public static var greedy: SamplingParameters {
        var p = SamplingParameters()
        p.temperature = 0
        return p
    }
}
