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

struct AttentionBlockTests {
    @Test func simdDotsAndWeightedSumsMatchThePlainLoops() {
        var rng = SplitMix(seed: 5)
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 } }
        for (d, count) in [(64, 1), (64, 7), (128, 13), (256, 64), (40, 9)] {
            let q = random(d), keys = random(d * count), weights = random(count)
            var fast = [Float](repeating: 0, count: count), plain = fast
            AttentionBlocks.dots(q, keys, count: count, d: d, scale: 0.125, into: &fast)
            AttentionBlocks.dots(q, keys, count: count, d: d, scale: 0.125, into: &plain, portable: true)
            for i in 0..<count { #expect(abs(fast[i] - plain[i]) < 1e-4, "dots d \(d) count \(count) at \(i)") }
            let start = random(d)
            var out = start, reference = start
            AttentionBlocks.weightedSum(weights, keys, count: count, d: d, into: &out)
            AttentionBlocks.weightedSum(weights, keys, count: count, d: d, into: &reference, portable: true)
            for i in 0..<d { #expect(abs(out[i] - reference[i]) < 1e-4, "weighted sum d \(d) count \(count) at \(i)") }
        }
    }

    @Test func widenedHalvesAreExact() {
        let halves: [Float16] = (0..<48).map { Float16(Float($0) * 0.37 - 7) }
        var floats = [Float](repeating: .nan, count: 32)
        // Two rows of 16 taken 24 halves apart.
        halves.withUnsafeBufferPointer { AttentionBlocks.widen($0.baseAddress!, stride: 24, rows: 2, d: 16, into: &floats) }
        #expect(floats == (Array(halves[0..<16]) + Array(halves[24..<40])).map { Float($0) })
    }
}
