#if canImport(Glibc)
import Glibc
#endif
import KernelsAVX2

/// Element-wise and normalisation operations on float vectors.
public enum VectorOps {
    /// y = x / rms(x) * (weight + weightOffset)   (Gemma stores weights minus one: offset 1)
    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, weightOffset: Float = 0,
                               epsilon: Float, count n: Int, into y: UnsafeMutablePointer<Float>) {
        // Squares summed in double precision, as llama.cpp does.
        var sum: Double = 0
        for i in 0..<n { sum += Double(x[i] * x[i]) }
        let scale = 1 / (Float(sum / Double(n)) + epsilon).squareRoot()
        for i in 0..<n { y[i] = x[i] * scale * (weight[i] + weightOffset) }
    }

    /// LayerNorm with a bias (BERT): (x − mean) / sqrt(variance + ε) · weight + bias, mean and variance
    /// summed in double precision as llama.cpp does. `y` may be `x`.
    public static func layerNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                 epsilon: Float, count n: Int, into y: UnsafeMutablePointer<Float>) {
        var sum: Double = 0
        for i in 0..<n { sum += Double(x[i]) }
        let mean = Float(sum / Double(n))
        var squares: Double = 0
        for i in 0..<n {
            let d = x[i] - mean
            squares += Double(d * d)
        }
        let scale = 1 / (Float(squares / Double(n)) + epsilon).squareRoot()
        for i in 0..<n {
            let v = (x[i] - mean) * scale * weight[i]
            y[i] = bias.map { v + $0[i] } ?? v
        }
    }

    /// x[i] = e^(x[i] - shift); returns the sum (softmax's numerators and denominator).
    public static func expShifted(_ x: UnsafeMutablePointer<Float>, count n: Int, shift: Float) -> Float {
        if CPUFeatures.useAVX2 { return AVX2Exp.expShifted(x, count: n, shift: shift) }
        return expShiftedScalar(x, count: n, shift: shift)
    }

    public static func expShiftedScalar(_ x: UnsafeMutablePointer<Float>, count n: Int, shift: Float) -> Float {
        var sum: Float = 0
        for i in 0..<n {
            let e = expf(x[i] - shift)
            x[i] = e
            sum += e
        }
        return sum
    }

    public static func softmax(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        var m = -Float.infinity
        for i in 0..<n { m = max(m, x[i]) }
        var sum: Float = 0
        for i in 0..<n {
            let e = expf(x[i] - m)
            x[i] = e
            sum += e
        }
        let inv = 1 / sum
        for i in 0..<n { x[i] *= inv }
    }

    /// gate = silu(gate) * up
    public static func swiglu(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count n: Int) {
        for i in 0..<n {
            let g = gate[i]
            gate[i] = g / (1 + expf(-g)) * up[i]
        }
    }

    /// gpt-oss's SwiGLU: the gate capped at `limit`, up clamped to ±`limit`, gate · σ(alpha · gate) · (up + 1).
    public static func clampedSwiglu(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count n: Int,
                                     alpha: Float = 1.702, limit: Float = 7) {
        for i in 0..<n {
            let g = min(gate[i], limit), u = min(max(up[i], -limit), limit)
            gate[i] = g / (1 + expf(alpha * -g)) * (u + 1)
        }
    }

    /// The tanh approximation of GELU.
    @inline(__always) static func gelu(_ x: Float) -> Float {
        let c: Float = 0.797_884_560_802_865_4  // sqrt(2 / pi)
        return 0.5 * x * (1 + tanhf(c * x * (1 + 0.044715 * x * x)))
    }

    /// GELU of every half-precision value, in half precision, indexed by bit pattern: as llama.cpp
    /// evaluates it (input rounded to f16, table lookup), which is both faster and closer to the reference.
    static let geluTable: [Float] = (0..<65536).map { bits in
        let x = Float(Float16(bitPattern: UInt16(bits)))
        return x.isFinite ? Float(Float16(gelu(x))) : 0
    }

    /// gate = gelu(gate) * up
    public static func geglu(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count n: Int) {
        geluTable.withUnsafeBufferPointer { table in
            for i in 0..<n { gate[i] = tableGelu(gate[i], table) * up[i] }
        }
    }

    /// x = gelu(x): an ungated feed-forward's activation (BERT).
    public static func gelu(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        geluTable.withUnsafeBufferPointer { table in
            for i in 0..<n { x[i] = tableGelu(x[i], table) }
        }
    }

    @inline(__always) private static func tableGelu(_ x: Float, _ table: UnsafeBufferPointer<Float>) -> Float {
        x <= -10 ? 0 : x >= 10 ? x : table[Int(Float16(x).bitPattern)]
    }

    public static func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count n: Int) {
        for i in 0..<n { y[i] += x[i] }
    }

    /// y += x · s (the product rounded before the sum, as separate multiply and add operations do).
    public static func addScaled(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ s: Float, count n: Int) {
        for i in 0..<n { y[i] += x[i] * s }
    }

    public static func scale(_ y: UnsafeMutablePointer<Float>, by s: Float, count n: Int) {
        for i in 0..<n { y[i] *= s }
    }

    /// Rotary position embedding of the first `headDim` values of one head in place (the rest of a
    /// partially rotated head is left as it is). `neox`: pairs (i, i + d/2); otherwise (2i, 2i+1).
    /// Angles and rotations are evaluated as llama.cpp evaluates them — each pair's angle is the
    /// previous one times base^(-2/d), and each output is one fused multiply-add over the other
    /// product rounded — so the rotated keys round to the same half-precision values in the cache.
    /// `factors`: each pair's angle divided by its own factor before the scale (Llama 3.1's `rope_freqs`).
    /// `yarn`: YaRN's blend of the scaled and unscaled angles across pairs, and its magnitude.
    public static func rope(_ x: UnsafeMutablePointer<Float>, headDim: Int, position: Int, base: Float, scale: Float = 1, neox: Bool,
                            factors: UnsafePointer<Float>? = nil, yarn: YaRNRamp? = nil) {
        let half = headDim / 2
        let step = powf(base, -2 / Float(headDim))
        var theta = Float(position)
        for i in 0..<half {
            let unscaled = factors.map { theta / $0[i] } ?? theta
            let c: Float, s: Float
            if let yarn {
                let mix = yarn.ramp(pair: i) * yarn.extrapolation
                let angle = (scale * unscaled) * (1 - mix) + unscaled * mix
                c = cosf(angle) * yarn.magnitude
                s = sinf(angle) * yarn.magnitude
            } else {
                let angle = scale * unscaled
                c = cosf(angle)
                s = sinf(angle)
            }
            let (a, b) = neox ? (i, i + half) : (2 * i, 2 * i + 1)
            let x0 = x[a], x1 = x[b]
            x[a] = (-(x1 * s)).addingProduct(x0, c)
            x[b] = (x1 * c).addingProduct(x0, s)
            theta *= step
        }
    }
}

/// YaRN's per-model constants for one RoPE base: the pairs between `low` and `high` blend the scaled
/// angle into the unscaled one (pairs below `low` keep it unscaled, above `high` fully scaled), and
/// every rotation is multiplied by `magnitude`.
public struct YaRNRamp: Sendable, Equatable {
    public var low: Float
    public var high: Float
    /// How much of the unscaled angle the ramp lets through (1 for YaRN).
    public var extrapolation: Float
    public var magnitude: Float

    /// For a head of `headDim` rotated dimensions, a context originally `originalContext` long scaled by
    /// `factor`, RoPE base `base`, and YaRN's `betaFast`/`betaSlow` rotation counts; `attentionFactor`
    /// multiplies the magnitude.
    public init(headDim: Int, base: Float, factor: Float, originalContext: Int, betaFast: Float = 32, betaSlow: Float = 1,
                attentionFactor: Float = 1) {
        // The pair index at which a dimension completes `rotations` turns over the original context.
        func pair(_ rotations: Float) -> Float {
            Float(headDim) * logf(Float(originalContext) / (rotations * 2 * Float.pi)) / (2 * logf(base))
        }
        low = max(0, floorf(pair(betaFast)))
        high = min(Float(headDim - 1), ceilf(pair(betaSlow)))
        extrapolation = 1
        // The magnitude as llama.cpp composes it: its context's attention factor (1 over the kernel's
        // own log term, times the file's factor) times the kernel's log term.
        let log = 1 + 0.1 * logf(factor)
        let attention = (factor <= 1 ? 1 : 0.1 * logf(factor) + 1) * (1 / log) * attentionFactor
        magnitude = attention * (1 + 0.1 * logf(1 / (1 / factor)))
    }

    /// No blend, only a magnitude: the file's attention factor without YaRN (LongRoPE's).
    public init(magnitude: Float) {
        low = 0
        high = 0
        extrapolation = 0
        self.magnitude = magnitude
    }

    @inline(__always) func ramp(pair i: Int) -> Float {
        let y = (Float(i) - low) / max(0.001, high - low)
        return 1 - min(1, max(0, y))
    }
}
