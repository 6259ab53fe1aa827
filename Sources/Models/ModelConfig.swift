import GGUF

/// Everything the shared decoder needs to know about an architecture: sizes from the file's
/// hyper-parameters, and the flags in which the supported architectures differ.
public struct ModelConfig: Sendable {
    public var architecture: String
    public var embeddingLength: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    /// The feed-forward's hidden width (each expert's, in a mixture of experts).
    public var feedForwardLength: Int
    public var vocabularySize: Int
    public var trainedContext: Int
    /// The norms' ε (RMSNorm's, or LayerNorm's for encoders).
    public var normEpsilon: Float
    public var ropeBase: Float
    public var ropeScale: Float = 1
    /// NeoX-style RoPE rotates (i, i + d/2) pairs; otherwise (2i, 2i+1).
    public var ropeNeox: Bool
    /// How many of each head's dimensions RoPE rotates (the first ones; Phi-4-mini rotates 3/4).
    public var ropeDimensions: Int
    /// The tensor of per-pair divisors of the RoPE frequencies, if any: `rope_freqs.weight` (Llama 3.1
    /// and later), or LongRoPE's short or long factors (Phi-3/3.5/4-mini).
    public var ropeFactorsTensor: String? = nil
    /// The file's `rope.scaling.attn_factor`: it multiplies every rotation (LongRoPE's and YaRN's magnitude).
    public var ropeAttentionFactor: Float = 1
    /// YaRN context extension (`rope.scaling.type` "yarn", scaled by 1 / `ropeScale`): the context the
    /// model was trained on before it (nil: no YaRN).
    public var yarnOriginalContext: Int? = nil
    /// The longest sequence the model will be run for (LongRoPE chooses its factors by it).
    public var sequenceLength: Int
    /// Gemma multiplies embeddings by sqrt(embeddingLength).
    public var embeddingScale: Float = 1
    /// Scale applied to attention scores (default 1/sqrt(headDim)).
    public var attentionScale: Float
    /// Gemma scales queries before attention rather than scores after it (as llama.cpp's graph does,
    /// which decides where its half-precision rounding of the query falls).
    public var scalesQueries = false
    /// Qwen2 has biases on the Q, K and V projections.
    public var qkvBias = false
    /// Gemma 3 normalises each query and key head.
    public var qkNorm = false
    /// Gemma 3 normalises the attention and feed-forward outputs before adding them to the residual.
    public var postNorms = false
    /// The feed-forward's activation (each expert's, in a mixture).
    public var activation = FeedForwardActivation.swiglu
    /// Encoders (BERT): every token attends to the whole sequence, after it as well as before.
    public var causal = true
    /// BERT: learned absolute position embeddings added to the tokens' (no RoPE).
    public var positionEmbeddings = false
    /// Encoders: LayerNorm with biases instead of RMSNorm.
    public var layerNorm = false
    /// Encoders' post-norm: each sublayer's output is added to its input and the sum normalised (no
    /// norm before a sublayer, none after the last layer).
    public var residualNorms = false
    /// BERT: biases on the feed-forward's up and down projections.
    public var feedForwardBiases = false
    /// The tensor that normalises the feed-forward's input (`blk.N.<name>.weight`).
    public var feedForwardNorm = "ffn_norm"
    /// gpt-oss: a bias on the attention output, and on the router and every expert's matrices.
    public var outputBias = false
    public var expertBiases = false
    /// gpt-oss: each query head has a learned "sink" score that joins its softmax's denominator.
    public var attentionSinks = false
    /// Sliding-window attention: window length and which layers use it.
    public var slidingWindow: Int? = nil
    /// With pattern n > 0, layer i uses the window when i % n < n - 1 (n - 1 local layers, then one global).
    public var slidingPattern = 0
    /// RoPE base for sliding-window layers, when it differs.
    public var ropeBaseSliding: Float? = nil
    /// Gemma 2 style soft-capping of the final logits (0: none).
    public var finalLogitSoftcap: Float = 0
    /// A mixture of experts as the feed-forward (nil: one dense feed-forward).
    public var experts: ExpertRouting? = nil
    /// How embeddings pool the sequence's hidden states.
    public var pooling = Pooling.mean

    public func isSliding(layer: Int) -> Bool {
        slidingWindow != nil && slidingPattern > 0 && layer % slidingPattern < slidingPattern - 1
    }

    /// The common hyper-parameters, read under the architecture's key prefix.
    init(gguf: GGUFFile, vocabularySize: Int, sequenceLength: Int?) throws {
        let arch = gguf.architecture ?? "unknown"
        func required(_ suffix: String) throws -> Int {
            guard let v = try gguf.integer(arch + "." + suffix) else { throw ModelError.missingKey(arch + "." + suffix) }
            return v
        }
        architecture = arch
        embeddingLength = try required("embedding_length")
        layers = try required("block_count")
        heads = try required("attention.head_count")
        kvHeads = try gguf.integer(arch + ".attention.head_count_kv") ?? heads
        headDim = try gguf.integer(arch + ".attention.key_length") ?? embeddingLength / max(heads, 1)
        // Required for dense feed-forwards (`ArchitectureRegistry` checks); a mixture's width is its own key.
        feedForwardLength = try gguf.integer(arch + ".feed_forward_length") ?? 0
        self.vocabularySize = vocabularySize
        trainedContext = try gguf.integer(arch + ".context_length") ?? 2048
        self.sequenceLength = sequenceLength ?? trainedContext
        pooling = Pooling(code: try gguf.integer(arch + ".pooling_type"))
        normEpsilon = try gguf.float(arch + ".attention.layer_norm_rms_epsilon") ?? 1e-5
        ropeBase = try gguf.float(arch + ".rope.freq_base") ?? 10000
        let scaling = try gguf.string(arch + ".rope.scaling.type")
        if let factor = try gguf.float(arch + ".rope.scaling.factor"), factor > 0, scaling == "linear" || scaling == "yarn" {
            ropeScale = 1 / factor
        }
        if scaling == "yarn" {
            yarnOriginalContext = try gguf.integer(arch + ".rope.scaling.original_context_length") ?? trainedContext
        }
        ropeAttentionFactor = try gguf.float(arch + ".rope.scaling.attn_factor") ?? 1
        ropeNeox = false
        ropeDimensions = try gguf.integer(arch + ".rope.dimension_count") ?? headDim
        attentionScale = 1 / Float(headDim).squareRoot()
        if let window = try gguf.integer(arch + ".attention.sliding_window"), window > 0 { slidingWindow = window }
        guard heads > 0, kvHeads > 0, heads % kvHeads == 0, headDim > 0, headDim % 2 == 0 else {
            throw ModelError.badShape("\(heads) heads, \(kvHeads) KV heads and head size \(headDim) do not fit")
        }
        guard ropeDimensions > 0, ropeDimensions % 2 == 0, ropeDimensions <= headDim else {
            throw ModelError.badShape("RoPE over \(ropeDimensions) dimensions of a head of \(headDim)")
        }
    }
}

public enum ModelError: Error, Equatable, CustomStringConvertible {
    case unsupportedArchitecture(String)
    case missingKey(String)
    case missingTensor(String)
    case badShape(String)
    case unsupportedTensorType(String, GGMLType)
    /// Something the file's hyper-parameters or tensors ask for that Wick does not implement.
    case unsupportedFeature(String)

    public var description: String {
        switch self {
        case .unsupportedArchitecture(let a): return "unsupported model architecture '\(a)' (supported: \(ArchitectureRegistry.supportedNames.joined(separator: ", ")))"
        case .missingKey(let k): return "the model file lacks the hyper-parameter '\(k)'"
        case .missingTensor(let t): return "the model file lacks the tensor '\(t)'"
        case .badShape(let why): return "tensor shapes do not match the hyper-parameters: \(why)"
        case .unsupportedTensorType(let t, let type): return "tensor '\(t)' has type \(type.name), which Wick cannot compute with yet"
        case .unsupportedFeature(let what): return "the model file asks for \(what), which Wick does not implement yet (refused rather than run approximately)"
        }
    }
}

/// How the gate and up projections combine: SwiGLU, GeGLU (tanh GELU; Gemma), or gpt-oss's clamped
/// SwiGLU (gate ≤ 7, up within ±7, gate · σ(1.702 · gate) · (up + 1)); or BERT's ungated GELU of
/// the up projection (no gate matrix).
public enum FeedForwardActivation: Sendable, Equatable {
    case swiglu, geglu, clampedSwiglu, gelu
}

/// How a sequence's hidden states become one embedding vector (`{arch}.pooling_type`).
public enum Pooling: Sendable, Equatable {
    case mean, first, last
    /// GGUF codes: 1 mean, 2 CLS (first token), 3 last; none or unspecified pools by mean.
    public init(code: Int?) { self = code == 2 ? .first : code == 3 ? .last : .mean }
}
