#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing
@testable import Kernels

struct VectorOpsTests {
    @Test func vectorExponentialMatchesExpf() {
        var rng = SplitMix(seed: 11)
        for n in [1, 7, 8, 9, 31, 300] {
            // Attention scores minus their maximum: mostly in [-30, 0], with some far below.
            let scores = (0..<n).map { _ in -Float(rng.next() % 30_000) / 1000 - (rng.next() % 10 == 0 ? 100 : 0) }
            let shift = Float(rng.next() % 1000) / 100
            var fast = scores, reference = scores
            let fastSum = fast.withUnsafeMutableBufferPointer { VectorOps.expShifted($0.baseAddress!, count: n, shift: shift) }
            let referenceSum = reference.withUnsafeMutableBufferPointer { VectorOps.expShiftedScalar($0.baseAddress!, count: n, shift: shift) }
            for i in 0..<n {
                #expect(abs(fast[i] - reference[i]) <= 3e-7 * reference[i] + 1e-37, "n \(n) at \(i): \(fast[i]) vs \(reference[i])")
            }
            #expect(abs(fastSum - referenceSum) <= 1e-6 * referenceSum + 1e-37)
        }
    }
}

struct HalfAccumulatorTests {
    /// The AVX2 half-precision accumulator rounds exactly as the portable one (fused product, then
    /// nearest half, ties to even), and its values stay representable in half precision.
    @Test func simdHalfAccumulationMatchesPortable() {
        var rng = SplitMix(seed: 17)
        func random(_ n: Int, _ scale: Float) -> [Float] { (0..<n).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 * scale } }
        for d in [8, 64, 128, 256] {
            let values = random(d * 20, 4).map { Float16($0) }
            var fast = [Float](repeating: 0, count: d), plain = fast
            for p in 0..<20 {
                let w = abs(random(1, 1)[0]), rescale = p % 7 == 3 ? Float(0.3) : 1
                if rescale != 1 {
                    HalfVectors.scaleHalf(&fast, rescale, count: d)
                    for i in 0..<d { plain[i] = Float(Float16(plain[i] * rescale)) }
                }
                values.withUnsafeBufferPointer { HalfVectors.addScaledHalf(&fast, w, $0.baseAddress! + p * d, count: d) }
                for i in 0..<d { plain[i] = Float(Float16(plain[i].addingProduct(Float(values[p * d + i]), w))) }
            }
            #expect(fast == plain, "d \(d)")
            #expect(fast.allSatisfy { Float(Float16($0)) == $0 })
        }
    }
}

struct HalfDotTests {
    /// The stepped half-precision dot product gives the same float on the AVX2 and portable paths
    /// (one summation order), for head sizes with and without a remainder past the last step of 64.
    @Test func steppedDotIsOneOrderOnEveryPath() {
        var rng = SplitMix(seed: 29)
        for d in [64, 96, 128, 256, 40] {
            let q = (0..<d).map { _ in Float(Float16(Float(Int(rng.next() % 2001) - 1000) / 250)) }
            let k = (0..<d).map { _ in Float16(Float(Int(rng.next() % 2001) - 1000) / 250) }
            let fast = k.withUnsafeBufferPointer { HalfVectors.dotInSteps(q, $0.baseAddress!, count: d) }
            let plain = k.withUnsafeBufferPointer { HalfVectors.dotInSteps(q, $0.baseAddress!, count: d, portable: true) }
            let exact = zip(q, k).reduce(0.0) { $0 + Double($1.0) * Double(Float($1.1)) }
            #expect(fast == plain, "d \(d)")
            #expect(abs(Double(fast) - exact) <= 1e-5 * max(1, abs(exact)), "d \(d)")
        }
    }
}

struct RopeTests {
    /// The angle of pair i is position · base^(−2/d) multiplied i times (llama.cpp's recurrence), so a
    /// rotation at position p matches that reference to the float, and rotations keep the pair's norm.
    @Test func rotationFollowsTheAngleRecurrence() {
        var rng = SplitMix(seed: 23)
        for (d, neox) in [(64, false), (64, true), (128, true)] {
            let x = (0..<d).map { _ in Float(Int(rng.next() % 2001) - 1000) / 100 }
            for position in [0, 1, 17, 4000] {
                var y = x
                VectorOps.rope(&y, headDim: d, position: position, base: 10000, neox: neox)
                var theta = Float(position)
                let step = powf(10000, -2 / Float(d))
                for i in 0..<(d / 2) {
                    let (a, b) = neox ? (i, i + d / 2) : (2 * i, 2 * i + 1)
                    let c = cosf(theta), s = sinf(theta)
                    #expect(y[a] == (-(x[b] * s)).addingProduct(x[a], c) && y[b] == (x[b] * c).addingProduct(x[a], s))
                    #expect(abs((y[a] * y[a] + y[b] * y[b]) - (x[a] * x[a] + x[b] * x[b])) <= 1e-3 * (x[a] * x[a] + x[b] * x[b]) + 1e-6)
                    theta *= step
                }
            }
        }
    }
}

struct YaRNTests {
    /// The ramp's pairs and magnitude for a 128-dimension head at base 10000, scaled 4× from 4096
    /// positions: pair ⌊128·ln(4096/(32·2π))/(2·ln 10000)⌋ = 20 to ⌈128·ln(4096/2π)/(2·ln 10000)⌉ = 46,
    /// magnitude 1 + 0.1·ln 4.
    @Test func rampAndMagnitude() {
        let ramp = YaRNRamp(headDim: 128, base: 10000, factor: 4, originalContext: 4096)
        #expect(ramp.low == 20 && ramp.high == 46)
        #expect(abs(ramp.magnitude - (1 + 0.1 * logf(4))) < 1e-6)
        #expect(ramp.ramp(pair: 0) == 1 && ramp.ramp(pair: 20) == 1 && ramp.ramp(pair: 46) == 0 && ramp.ramp(pair: 63) == 0)
        #expect(abs(ramp.ramp(pair: 33) - 0.5) < 1e-6)
    }

    /// Pairs before the ramp keep the unscaled angle, pairs after it take the scaled one, all
    /// multiplied by the magnitude; unscaled (factor 1), YaRN is plain RoPE (to rounding of the blend).
    @Test func rotationBlendsScaledAndUnscaledAngles() {
        let d = 128, position = 300
        let x = (0..<d).map { Float($0 % 11) - 5 }
        let ramp = YaRNRamp(headDim: d, base: 10000, factor: 4, originalContext: 4096)
        var y = x, unscaled = x, scaled = x
        VectorOps.rope(&y, headDim: d, position: position, base: 10000, scale: 0.25, neox: true, yarn: ramp)
        VectorOps.rope(&unscaled, headDim: d, position: position, base: 10000, neox: true)
        VectorOps.rope(&scaled, headDim: d, position: position, base: 10000, scale: 0.25, neox: true)
        for i in [0, 5, 19] { #expect(abs(y[i] - unscaled[i] * ramp.magnitude) < 1e-4, "pair \(i)") }
        for i in [47, 50, 63] { #expect(abs(y[i] - scaled[i] * ramp.magnitude) < 1e-4, "pair \(i)") }
        var one = x, plain = x
        VectorOps.rope(&one, headDim: d, position: position, base: 10000, neox: false,
                       yarn: YaRNRamp(headDim: d, base: 10000, factor: 1, originalContext: 4096))
        VectorOps.rope(&plain, headDim: d, position: position, base: 10000, neox: false)
        #expect(zip(one, plain).allSatisfy { abs($0 - $1) < 1e-5 })
    }
}

struct AttentionBlockTests {
    @Test func simdTileProductsMatchThePlainLoops() {
        var rng = SplitMix(seed: 5)
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 } }
        // Scores (b = keys, outStride d) and weighted sums (b = values, reduceStride d), with output
        // counts that are and are not multiples of the kernel's eight.
        for (rows, d, count) in [(8, 64, 1), (24, 64, 7), (56, 64, 64), (16, 256, 13), (8, 40, 9)] {
            let queries = random(d * rows), keys = random(count * d), start = random(max(count, d) * rows)
            for (outStride, reduceStride, outputs, reduce) in [(d, 1, count, d), (1, d, d, count)] {
                for accumulate in [false, true] {
                    let a = outStride == d ? queries : Array(start.prefix(count * rows))
                    var fast = start, plain = start
                    AttentionBlocks.tileProduct(a, rows: rows, keys, outStride: outStride, reduceStride: reduceStride,
                                                outputs: outputs, reduce: reduce, into: &fast, accumulate: accumulate)
                    AttentionBlocks.tileProduct(a, rows: rows, keys, outStride: outStride, reduceStride: reduceStride,
                                                outputs: outputs, reduce: reduce, into: &plain, accumulate: accumulate, portable: true)
                    let worst = zip(fast, plain).map { abs($0 - $1) }.max() ?? 0
                    #expect(worst < 1e-4, "rows \(rows) d \(d) count \(count) outStride \(outStride) accumulate \(accumulate): \(worst)")
                }
            }
        }
    }

    @Test func simdOnlineSoftmaxMatchesThePlainLoop() {
        var rng = SplitMix(seed: 9)
        func random(_ n: Int, _ scale: Float) -> [Float] { (0..<n).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 * scale } }
        let rows = 16, count = 11, d = 24
        var scores = random(count * rows, 8)
        // A masked row and positions, and rows whose running maximum is not raised by this block.
        for p in 0..<count { scores[p * rows + 3] = -1e30 }
        scores[5 * rows + 7] = -1e30
        var maxima = random(rows, 4), sums = random(rows, 1).map { abs($0) + 1 }, outputs = random(d * rows, 1)
        maxima[3] = -1e30
        sums[3] = 0
        for r in [0, 9, 15] { maxima[r] = 20 }
        var (s2, m2, l2, o2) = (scores, maxima, sums, outputs)
        AttentionBlocks.onlineSoftmax(&scores, rows: rows, count: count, maxima: &maxima, sums: &sums, output: &outputs, d: d)
        AttentionBlocks.onlineSoftmax(&s2, rows: rows, count: count, maxima: &m2, sums: &l2, output: &o2, d: d, portable: true)
        #expect(maxima == m2)
        for (x, y) in zip(scores + sums + outputs, s2 + l2 + o2) { #expect(abs(x - y) <= 1e-5 * max(1, abs(y)), "\(x) vs \(y)") }
        #expect(sums[3] == Float(count), "a row masked so far weighs its masked positions e^0 until a real maximum comes")
    }

    @Test func simdGroupBlocksMatchThePlainLoopsAndTheDefinition() {
        var rng = SplitMix(seed: 13)
        func random(_ n: Int, _ scale: Float) -> [Float] { (0..<n).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 * scale } }
        // Groups below, at and above the kernel's four heads per pass; odd position counts; head
        // sizes with and without a last half pass of eight columns; a first block (masked maxima)
        // and a later one (running maxima, sums and outputs to rescale).
        for (group, d, count, stride) in [(1, 16, 5, 16), (3, 64, 64, 192), (4, 256, 37, 256), (7, 24, 9, 200), (8, 128, 64, 128)] {
            let q = random(group * d, 1)
            let keys = random(count * stride, 2).map { Float16($0) }, values = random(count * stride, 2).map { Float16($0) }
            for fresh in [true, false] {
                var maxima = fresh ? [Float](repeating: -1e30, count: group) : random(group, 3)
                var sums = fresh ? [Float](repeating: 0, count: group) : random(group, 1).map { abs($0) + 1 }
                var outputs = fresh ? [Float](repeating: 0, count: group * d) : random(group * d, 1)
                var scores = [Float](repeating: .nan, count: group * 64)
                var (m2, l2, o2, s2) = (maxima, sums, outputs, scores)
                keys.withUnsafeBufferPointer { k in
                    values.withUnsafeBufferPointer { v in
                        AttentionBlocks.groupBlock(q, group: group, d: d, keys: k.baseAddress!, values: v.baseAddress!, stride: stride, count: count,
                                                   scores: &scores, scoreStride: 64, maxima: &maxima, sums: &sums, output: &outputs)
                        AttentionBlocks.groupBlock(q, group: group, d: d, keys: k.baseAddress!, values: v.baseAddress!, stride: stride, count: count,
                                                   scores: &s2, scoreStride: 64, maxima: &m2, sums: &l2, output: &o2, portable: true)
                    }
                }
                for (x, y) in zip(maxima + sums + outputs, m2 + l2 + o2) {
                    #expect(abs(x - y) <= 1e-4 * max(1, abs(y)), "group \(group) d \(d) count \(count): \(x) vs \(y)")
                }
                guard fresh else { continue }
                // A first block from the definition: m = the largest score, sum Σ e^(s − m), output Σ e^(s − m) v.
                for h in 0..<group {
                    let scores = (0..<count).map { p in (0..<d).reduce(Float(0)) { $0 + q[h * d + $1] * Float(keys[p * stride + $1]) } }
                    let m = scores.max()!, weights = scores.map { expf($0 - m) }
                    #expect(abs(maxima[h] - m) <= 1e-4 * max(1, abs(m)) && abs(sums[h] - weights.reduce(0, +)) <= 1e-4 * Float(count))
                    for j in 0..<d {
                        let expected = (0..<count).reduce(Float(0)) { $0 + weights[$1] * Float(values[$1 * stride + j]) }
                        #expect(abs(outputs[h * d + j] - expected) <= 1e-3 * max(1, abs(expected)), "head \(h) column \(j)")
                    }
                }
            }
        }
    }

    @Test func widenedHalvesAreExact() {
        let halves: [Float16] = (0..<48).map { Float16(Float($0) * 0.37 - 7) }
        var floats = [Float](repeating: .nan, count: 32)
        // Two rows of 16 taken 24 halves apart.
        halves.withUnsafeBufferPointer { AttentionBlocks.widen($0.baseAddress!, stride: 24, rows: 2, d: 16, into: &floats) }
        #expect(floats == (Array(halves[0..<16]) + Array(halves[24..<40])).map { Float($0) })
    }

    @Test func layerNormMatchesTheDoublePrecisionFormula() {
        var rng = SystemRandomNumberGenerator()
        let n = 96
        let x = (0..<n).map { _ in Float.random(in: -3...5, using: &rng) }
        let weight = (0..<n).map { _ in Float.random(in: 0.5...1.5, using: &rng) }
        let bias = (0..<n).map { _ in Float.random(in: -0.5...0.5, using: &rng) }
        let mean = x.reduce(0.0) { $0 + Double($1) } / Double(n)
        let variance = x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(n)
        var y = [Float](repeating: 0, count: n), unbiased = y
        VectorOps.layerNorm(x, weight: weight, bias: bias, epsilon: 1e-12, count: n, into: &y)
        VectorOps.layerNorm(x, weight: weight, bias: nil, epsilon: 1e-12, count: n, into: &unbiased)
        for i in 0..<n {
            let expected = (Double(x[i]) - mean) / variance.squareRoot() * Double(weight[i])
            #expect(abs(Double(unbiased[i]) - expected) < 1e-5)
            #expect(abs(Double(y[i]) - expected - Double(bias[i])) < 1e-5)
        }
    }

    @Test func clampedSwigluCapsTheGateAndClampsUp() {
        // (gate, up): inside the limits, gate above 7, up beyond ±7, a very negative gate.
        let cases: [(Float, Float)] = [(0.5, -0.25), (10, 2), (3, 9), (-2, -12), (-40, 3), (7, 7)]
        var gate = cases.map { $0.0 }
        let up = cases.map { $0.1 }
        VectorOps.clampedSwiglu(&gate, up, count: cases.count)
        for ((g, u), result) in zip(cases, gate) {
            let x = Double(min(g, 7)), y = Double(min(max(u, -7), 7))
            let expected = x / (1 + exp(-1.702 * x)) * (y + 1)
            #expect(abs(Double(result) - expected) <= 1e-6 * max(1, abs(expected)), "gate \(g), up \(u): \(result) vs \(expected)")
        }
        #expect(gate[1] == gate[5] * 3 / 8, "a gate of 10 counts as 7")
    }
}
