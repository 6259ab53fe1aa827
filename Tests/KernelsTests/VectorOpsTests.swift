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
