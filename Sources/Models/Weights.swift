import GGUF
import Kernels

/// A norm's scale, and its bias (LayerNorm in encoders).
struct NormWeights {
    var weight: [Float]
    var bias: [Float]?
}

/// The tensors of one layer. Encoders have no norm before a sublayer; their post-norms normalise the
/// residual sum (`ModelConfig.residualNorms`) where Gemma's normalise the sublayer's output.
struct LayerWeights {
    var attentionNorm: NormWeights?
    var q: WeightMatrix, k: WeightMatrix, v: WeightMatrix, output: WeightMatrix
    var qBias: [Float]?, kBias: [Float]?, vBias: [Float]?, outputBias: [Float]?
    /// Each query head's sink score (gpt-oss).
    var sinks: [Float]?
    var qNorm: [Float]?, kNorm: [Float]?
    var postAttentionNorm: NormWeights?
    var ffnNorm: NormWeights?
    var feedForward: FeedForwardWeights
    var postFFNNorm: NormWeights?
}

/// A layer's feed-forward: one network (gated, or BERT's ungated one with biases), or a router over
/// experts (one matrix each per expert, slices of the file's 3-D expert tensors).
enum FeedForwardWeights {
    case dense(gate: WeightMatrix?, up: WeightMatrix, down: WeightMatrix, upBias: [Float]?, downBias: [Float]?)
    case experts(ExpertWeights)
}

/// The router and the experts of one layer; the biases (gpt-oss) one row per expert.
struct ExpertWeights {
    var router: WeightMatrix
    var routerBias: [Float]?
    var gate: [WeightMatrix], up: [WeightMatrix], down: [WeightMatrix]
    var gateBias: [[Float]]?, upBias: [[Float]]?, downBias: [[Float]]?
}

/// All tensors of a model, checked against the configuration. Matrices point into the mapped file.
struct ModelWeights {
    let embeddings: WeightMatrix
    /// Encoders: token type 0's embedding and the learned positions (BERT), added to each token's, and
    /// the norm of their sum.
    let tokenType: [Float]?
    let positions: WeightMatrix?
    let embeddingNorm: NormWeights?
    /// Decoders only: encoders end with their last layer's post-norm and have no vocabulary projection.
    let outputNorm: NormWeights?
    let output: WeightMatrix?
    let layers: [LayerWeights]
    /// Per-pair divisors of the RoPE frequencies (Llama 3.1+).
    let ropeFactors: [Float]?

    init(gguf: GGUFFile, config c: ModelConfig) throws {
        let e = c.embeddingLength, qDim = c.heads * c.headDim, kvDim = c.kvHeads * c.headDim
        func info(_ name: String) throws -> GGUFTensorInfo {
            guard let t = gguf.tensor(named: name) else { throw ModelError.missingTensor(name) }
            return t
        }
        func matrix(_ name: String, rows: Int, columns: Int) throws -> WeightMatrix {
            let t = try info(name)
            guard t.dimensions.count == 2, t.dimensions[0] == columns, t.dimensions[1] == rows else {
                throw ModelError.badShape("\(name) is \(t.dimensions), expected [\(columns), \(rows)]")
            }
            guard Dequantize.isSupported(t.type) else { throw ModelError.unsupportedTensorType(name, t.type) }
            return WeightMatrix(type: t.type, rows: rows, columns: columns, data: gguf.data(of: t).baseAddress!)
        }
        /// The `count` matrices of a 3-D tensor [columns, rows, count], one per expert.
        func experts(_ name: String, count: Int, rows: Int, columns: Int) throws -> [WeightMatrix] {
            let t = try info(name)
            guard t.dimensions.count == 3, t.dimensions[0] == columns, t.dimensions[1] == rows, t.dimensions[2] == count else {
                throw ModelError.badShape("\(name) is \(t.dimensions), expected [\(columns), \(rows), \(count)]")
            }
            guard Dequantize.isSupported(t.type) else { throw ModelError.unsupportedTensorType(name, t.type) }
            let first = WeightMatrix(type: t.type, rows: rows, columns: columns, data: gguf.data(of: t).baseAddress!)
            return (0..<count).map { WeightMatrix(type: t.type, rows: rows, columns: columns, data: first.data + $0 * rows * first.rowBytes) }
        }
        func feedForward(_ p: String) throws -> FeedForwardWeights {
            let ff = c.feedForwardLength
            guard let routing = c.experts else {
                let down = try matrix(p + "ffn_down.weight", rows: e, columns: ff)
                let upBias = c.feedForwardBiases ? try vector(p + "ffn_up.bias", count: ff) : nil
                let downBias = c.feedForwardBiases ? try vector(p + "ffn_down.bias", count: e) : nil
                if c.activation == .gelu {
                    return .dense(gate: nil, up: try matrix(p + "ffn_up.weight", rows: ff, columns: e), down: down, upBias: upBias, downBias: downBias)
                }
                // Phi-3 fuses gate and up into one `ffn_up` of twice the width, gate first.
                if gguf.tensor(named: p + "ffn_gate.weight") == nil, gguf.tensor(named: p + "ffn_up.weight")?.dimensions.last == 2 * ff {
                    let fused = try matrix(p + "ffn_up.weight", rows: 2 * ff, columns: e)
                    return .dense(gate: fused.rows(0..<ff), up: fused.rows(ff..<(2 * ff)), down: down, upBias: upBias, downBias: downBias)
                }
                return .dense(gate: try matrix(p + "ffn_gate.weight", rows: ff, columns: e),
                              up: try matrix(p + "ffn_up.weight", rows: ff, columns: e), down: down, upBias: upBias, downBias: downBias)
            }
            let n = routing.count, biased = c.expertBiases
            /// One bias row of `width` per expert, from a [width, count] tensor.
            func rows(_ name: String, width: Int) throws -> [[Float]] {
                let all = try vector(name, count: width * n)
                return (0..<n).map { Array(all[($0 * width)..<(($0 + 1) * width)]) }
            }
            return .experts(ExpertWeights(
                router: try matrix(p + "ffn_gate_inp.weight", rows: n, columns: e),
                routerBias: biased ? try vector(p + "ffn_gate_inp.bias", count: n) : nil,
                gate: try experts(p + "ffn_gate_exps.weight", count: n, rows: ff, columns: e),
                up: try experts(p + "ffn_up_exps.weight", count: n, rows: ff, columns: e),
                down: try experts(p + "ffn_down_exps.weight", count: n, rows: e, columns: ff),
                gateBias: biased ? try rows(p + "ffn_gate_exps.bias", width: ff) : nil,
                upBias: biased ? try rows(p + "ffn_up_exps.bias", width: ff) : nil,
                downBias: biased ? try rows(p + "ffn_down_exps.bias", width: e) : nil))
        }
        func vector(_ name: String, count: Int) throws -> [Float] {
            let t = try info(name)
            guard t.elementCount == count else { throw ModelError.badShape("\(name) has \(t.elementCount) values, expected \(count)") }
            guard Dequantize.isSupported(t.type) else { throw ModelError.unsupportedTensorType(name, t.type) }
            return [Float](unsafeUninitializedCapacity: count) { buf, n in
                Dequantize.row(t.type, gguf.data(of: t).baseAddress!, buf.baseAddress!, count: count)
                n = count
            }
        }

        /// A norm's weight, and its bias for LayerNorms.
        func norm(_ name: String) throws -> NormWeights {
            NormWeights(weight: try vector(name + ".weight", count: e), bias: c.layerNorm ? try vector(name + ".bias", count: e) : nil)
        }

        embeddings = try matrix("token_embd.weight", rows: c.vocabularySize, columns: e)
        if c.causal {
            tokenType = nil
            positions = nil
            embeddingNorm = nil
            outputNorm = try norm("output_norm")
            output = gguf.tensor(named: "output.weight") == nil ? embeddings : try matrix("output.weight", rows: c.vocabularySize, columns: e)
        } else {
            // Token type 0 ("sentence A") for every token, as llama.cpp does; a file may have no types.
            tokenType = try gguf.tensor(named: "token_types.weight").map { t in
                guard t.dimensions.count == 2, t.dimensions[0] == e else { throw ModelError.badShape("token_types.weight is \(t.dimensions), expected [\(e), types]") }
                return Array(try vector("token_types.weight", count: t.elementCount).prefix(e))
            }
            positions = c.positionEmbeddings ? try matrix("position_embd.weight", rows: c.trainedContext, columns: e) : nil
            embeddingNorm = try norm("token_embd_norm")
            outputNorm = nil
            output = nil
        }
        ropeFactors = try c.ropeFactorsTensor.map { try vector($0, count: c.ropeDimensions / 2) }
        /// The Q, K and V projections (and biases, where the architecture has them): three tensors, or
        /// rows of one fused `attn_qkv` (Phi-3).
        func projections(_ p: String) throws -> (q: WeightMatrix, k: WeightMatrix, v: WeightMatrix, biases: [[Float]]?) {
            let parts = [0..<qDim, qDim..<(qDim + kvDim), (qDim + kvDim)..<(qDim + 2 * kvDim)]
            if gguf.tensor(named: p + "attn_qkv.weight") != nil {
                let fused = try matrix(p + "attn_qkv.weight", rows: qDim + 2 * kvDim, columns: e)
                let bias = c.qkvBias ? try vector(p + "attn_qkv.bias", count: qDim + 2 * kvDim) : nil
                return (fused.rows(parts[0]), fused.rows(parts[1]), fused.rows(parts[2]), bias.map { b in parts.map { Array(b[$0]) } })
            }
            let names = ["attn_q", "attn_k", "attn_v"]
            let m = try zip(names, parts).map { try matrix(p + $0 + ".weight", rows: $1.count, columns: e) }
            let biases = c.qkvBias ? try zip(names, parts).map { try vector(p + $0 + ".bias", count: $1.count) } : nil
            return (m[0], m[1], m[2], biases)
        }

        layers = try (0..<c.layers).map { i in
            let p = "blk.\(i)."
            let (q, k, v, biases) = try projections(p)
            return LayerWeights(
                attentionNorm: c.residualNorms ? nil : try norm(p + "attn_norm"),
                q: q, k: k, v: v,
                output: try matrix(p + "attn_output.weight", rows: e, columns: qDim),
                qBias: biases?[0], kBias: biases?[1], vBias: biases?[2],
                outputBias: c.outputBias ? try vector(p + "attn_output.bias", count: e) : nil,
                sinks: c.attentionSinks ? try vector(p + "attn_sinks.weight", count: c.heads) : nil,
                qNorm: c.qkNorm ? try vector(p + "attn_q_norm.weight", count: c.headDim) : nil,
                kNorm: c.qkNorm ? try vector(p + "attn_k_norm.weight", count: c.headDim) : nil,
                postAttentionNorm: c.postNorms ? try norm(p + "post_attention_norm") : c.residualNorms ? try norm(p + "attn_output_norm") : nil,
                ffnNorm: c.residualNorms ? nil : try norm(p + c.feedForwardNorm),
                feedForward: try feedForward(p),
                postFFNNorm: c.postNorms ? try norm(p + "post_ffw_norm") : c.residualNorms ? try norm(p + "layer_output_norm") : nil
            )
        }
    }
}

extension ModelWeights {
    /// Bytes of the matrices one generated token reads: every layer's (of a mixture of experts, the
    /// router and `expertsUsed` experts) and the output projection. Its embedding row is negligible.
    func bytesReadPerToken(expertsUsed: Int) -> Int {
        func bytes(_ m: WeightMatrix?) -> Int { m.map { $0.rows * $0.rowBytes } ?? 0 }
        return layers.reduce(bytes(output)) { total, layer in
            let attention = bytes(layer.q) + bytes(layer.k) + bytes(layer.v) + bytes(layer.output)
            switch layer.feedForward {
            case let .dense(gate, up, down, _, _):
                return total + attention + bytes(gate) + bytes(up) + bytes(down)
            case let .experts(experts):
                let expert = bytes(experts.gate.first) + bytes(experts.up.first) + bytes(experts.down.first)
                return total + attention + bytes(experts.router) + expertsUsed * expert
            }
        }
    }
}
