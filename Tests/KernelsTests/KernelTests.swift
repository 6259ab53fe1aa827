import TestSupport
import GGUF
import Testing
@testable import Kernels

/// Every weight type × every dot-product path against plain float arithmetic on random data.
@Suite struct KernelTests {
    static let integerTypes: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_nl, .iq4_xs, .mxfp4]

    /// Random but valid blocks: every byte random, half-precision scales replaced by small positive values.
    static func randomRow(_ type: GGMLType, blocks: Int, rng: inout SplitMix) -> [UInt8] {
        let (_, size) = type.blockGeometry
        var bytes = (0..<(blocks * size)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let halfOffsets: [Int]
        switch type {
        case .q4_0, .q5_0, .q8_0, .iq4_nl, .iq4_xs: halfOffsets = [0]
        case .q4_1, .q5_1: halfOffsets = [0, 2]
        case .q2_K: halfOffsets = [80, 82]
        case .q3_K: halfOffsets = [108]
        case .q4_K, .q5_K: halfOffsets = [0, 2]
        case .q6_K: halfOffsets = [208]
        default: halfOffsets = []
        }
        for b in 0..<blocks {
            // MXFP4's power-of-two scale byte: 2^-9 to 2^-1 (the table's values reach 12).
            if type == .mxfp4 { bytes[b * size] = UInt8(118 + rng.next() % 9) }
            for o in halfOffsets {
                let v = Float16(Float(rng.next() % 1000 + 1) / 20000)
                withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes[b * size + o] = $0[0]; bytes[b * size + o + 1] = $0[1] }
            }
        }
        return bytes
    }

    @Test(arguments: integerTypes)
    func everyPathMatchesFloatReference(type: GGMLType) {
        var rng = SplitMix(seed: UInt64(type.rawValue) &* 977)
        let perBlock = type.blockGeometry.elements
        for blocks in [1, 3, 7] {
            let n = blocks * perBlock
            let row = Self.randomRow(type, blocks: blocks, rng: &rng)
            let x = (0..<n).map { _ in Float(Int(rng.next() % 2001) - 1000) / 250 }
            var w = [Float](repeating: 0, count: n)
            row.withUnsafeBytes { Dequantize.row(type, $0.baseAddress!, &w, count: n) }
            let acts = QuantizedActivations(capacity: n)
            defer { acts.deallocate() }
            x.withUnsafeBufferPointer { acts.quantize($0.baseAddress!, count: n, grid: .init(weights: type)) }
            // Reference: dequantized weights × dequantized activations, in double precision.
            var expected: Double = 0
            for i in 0..<n { expected += Double(w[i]) * Double(acts.scales[i / 32]) * Double(acts.values[i]) }
            let magnitude = (0..<n).reduce(0.0) { $0 + abs(Double(w[$1]) * Double(x[$1])) }
            for kernel in DotKernel.available {
                let got = row.withUnsafeBytes { kernel.dot(type, $0.baseAddress!, acts, count: n) }
                #expect(abs(Double(got) - expected) <= 1e-4 * magnitude + 1e-5, "\(type) \(kernel.name) blocks=\(blocks): \(got) vs \(expected)")
            }
        }
    }

    /// One row against several tokens (the prompt-processing path) equals one token at a time, on the
    /// weight type's own activation grid (K-quants then sum a block's partials before folding them)
    /// and on the per-32 grid.
    @Test(arguments: integerTypes, [false, true])
    func batchedRowsMatchSingleTokens(type: GGMLType, ownGrid: Bool) {
        var rng = SplitMix(seed: 11 + UInt64(type.rawValue))
        let n = 2 * 256
        let tokens = 11  // one tiled group of eight and a remainder of three
        let grid: QuantizedActivations.Grid = ownGrid ? .init(weights: type) : .q8_0
        let row = Self.randomRow(type, blocks: n / type.blockGeometry.elements, rng: &rng)
        let x = (0..<(n * tokens)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 100 }
        let acts = QuantizedActivations(capacity: n * tokens)
        let single = QuantizedActivations(capacity: n)
        defer { acts.deallocate(); single.deallocate() }
        for t in 0..<tokens { x.withUnsafeBufferPointer { acts.quantize($0.baseAddress! + t * n, into: t * n, count: n, grid: grid) } }
        acts.regroup(tokens: tokens, columns: n)
        for kernel in DotKernel.available {
            var out = [Float](repeating: .nan, count: 2 * tokens)
            row.withUnsafeBytes { kernel.dot(type, $0.baseAddress!, acts, count: n, tokens: tokens, into: &out, stride: 2) }
            for t in 0..<tokens {
                x.withUnsafeBufferPointer { single.quantize($0.baseAddress! + t * n, count: n, grid: grid) }
                let one = row.withUnsafeBytes { kernel.dot(type, $0.baseAddress!, single, count: n) }
                #expect(abs(out[2 * t] - one) <= 1e-3 * max(1, abs(one)), "\(type) \(kernel.name) token \(t)")
            }
        }
    }

    /// A matrix of rows against many tokens (prompt processing: whole groups of eight rows decoded once,
    /// interleaved) gives the same bits as the same rows against eight tokens at a time, which take the
    /// one-row kernel; 21 rows leave five rows outside the groups, 27 tokens three outside the tiles.
    @Test(arguments: integerTypes)
    func interleavedRowsGiveTheEightTokenKernelsBits(type: GGMLType) {
        var rng = SplitMix(seed: 31 + UInt64(type.rawValue))
        let n = 2 * 256, rows = 21, tokens = 27, tiled = 24
        let grid = QuantizedActivations.Grid(weights: type)
        let rowBytes = n / type.blockGeometry.elements * type.blockGeometry.bytes
        let matrix = (0..<rows).flatMap { _ in Self.randomRow(type, blocks: n / type.blockGeometry.elements, rng: &rng) }
        let x = (0..<(n * tokens)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 100 }
        func quantized(_ range: Range<Int>) -> QuantizedActivations {
            let acts = QuantizedActivations(capacity: n * range.count)
            for (i, t) in range.enumerated() { x.withUnsafeBufferPointer { acts.quantize($0.baseAddress! + t * n, into: i * n, count: n, grid: grid) } }
            acts.regroup(tokens: range.count, columns: n)
            return acts
        }
        let all = quantized(0..<tokens)
        defer { all.deallocate() }
        for kernel in DotKernel.available where kernel.name != "portable" {
            var whole = [Float](repeating: .nan, count: rows * tokens)
            var byEight = [Float](repeating: .nan, count: rows * tokens)
            matrix.withUnsafeBytes { m in
                kernel.multiply(type, m.baseAddress!, rowBytes, 0..<rows, all, n, tokens, tiled, &whole, rows)
                for first in stride(from: 0, to: tokens, by: 8) {
                    let range = first..<min(first + 8, tokens)
                    let acts = quantized(range)
                    defer { acts.deallocate() }
                    byEight.withUnsafeMutableBufferPointer { out in
                        kernel.multiply(type, m.baseAddress!, rowBytes, 0..<rows, acts, n, range.count, range.count / 8 * 8, out.baseAddress! + first * rows, rows)
                    }
                }
            }
            let differing = zip(whole, byEight).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "\(type) \(kernel.name): \(differing) of \(whole.count) values differ")
        }
    }

    /// Both quantizers, for every grid: values within half a step, sums consistent, scales shared
    /// as the grid says, and the portable and AVX2 results identical bit for bit.
    @Test(arguments: [QuantizedActivations.Grid.q8_0, .q8_1, .q8_K])
    func activationQuantizationRoundTrips(grid: QuantizedActivations.Grid) {
        var rng = SplitMix(seed: 5)
        let n = 512
        let x = (0..<(n - 256)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 100 * (rng.next() % 7 == 0 ? 30 : 1) }
            + [Float](repeating: 0, count: 256)
        let paths: [(String, (QuantizedActivations, UnsafePointer<Float>) -> Void)] = [
            ("portable", { $0.quantizePortable($1, into: 0, count: n, grid: grid) }),
        ] + (CPUFeatures.hasAVX2 ? [("avx2", { $0.quantize($1, count: n, grid: grid) })] : [])
        var results: [[Float]] = []
        for (name, quantize) in paths {
            let acts = QuantizedActivations(capacity: n)
            defer { acts.deallocate() }
            x.withUnsafeBufferPointer { quantize(acts, $0.baseAddress!) }
            for i in 0..<n {
                let step = acts.scales[i / 32]
                #expect(abs(step * Float(acts.values[i]) - x[i]) <= step / 2 + step * 127 * 5e-4 + 1e-6, "\(name) \(i)")
            }
            for h in 0..<(n / 16) {
                #expect(Int(acts.halfSums[h]) == (0..<16).reduce(0) { $0 + Int(acts.values[16 * h + $1]) }, "\(name)")
            }
            for b in 0..<(n / 32) {
                let sum = acts.scales[b] * Float(Int(acts.halfSums[2 * b]) + Int(acts.halfSums[2 * b + 1]))
                #expect(abs(acts.blockSums[b] - sum) <= 1e-3 * max(1, abs(sum)), "\(name) block \(b)")
            }
            if grid == .q8_K { #expect((1..<8).allSatisfy { acts.scales[$0] == acts.scales[0] }) }
            #expect(acts.scales[15] == 0 && acts.values[500] == 0)
            results.append((0..<(n / 32)).map { acts.scales[$0] } + (0..<n).map { Float(acts.values[$0]) } + (0..<(n / 32)).map { acts.blockSums[$0] })
        }
        #expect(Set(results).count == 1, "portable and AVX2 quantize differently")
    }

    /// Values are multiplied by 127 / max, as llama.cpp does, not divided by the scale: in this block
    /// (from Gemma 3's first layer) 4.760316 · 127 / 32.678925 is exactly 18.5, which rounds to 18,
    /// while 4.760316 / (32.678925 / 127) is 18.500002 and would round to 19.
    @Test(arguments: [QuantizedActivations.Grid.q8_0, .q8_1, .q8_K])
    func valuesOnATieRoundLikeLlamaCpp(grid: QuantizedActivations.Grid) {
        let n = grid == .q8_K ? 256 : 32
        let x: [Float] = [32.678925, 4.760316] + [Float](repeating: 0.25, count: n - 2)
        let paths: [(QuantizedActivations, UnsafePointer<Float>) -> Void] = [{ $0.quantizePortable($1, into: 0, count: n, grid: grid) }]
            + (CPUFeatures.hasAVX2 ? [{ $0.quantize($1, count: n, grid: grid) }] : [])
        for quantize in paths {
            let acts = QuantizedActivations(capacity: n)
            defer { acts.deallocate() }
            x.withUnsafeBufferPointer { quantize(acts, $0.baseAddress!) }
            #expect(acts.values[0] == 127 && acts.values[1] == 18)
            if grid == .q8_K { #expect(acts.scales[0] == 1 / (127 / Float(32.678925))) }
        }
    }

    @Test func dequantizeKnownBlocks() {
        // Q8_0: scale 0.5, values -2, 4 …
        var q8: [UInt8] = Array(withUnsafeBytes(of: Float16(0.5).bitPattern.littleEndian) { Array($0) })
        q8 += (0..<32).map { UInt8(bitPattern: Int8($0 - 16)) }
        var out = [Float](repeating: 0, count: 32)
        q8.withUnsafeBytes { Dequantize.row(.q8_0, $0.baseAddress!, &out, count: 32) }
        #expect(out == (0..<32).map { Float($0 - 16) * 0.5 })
        // Q4_0: scale 2, byte 0x9A → low nibble 10-8 = 2 (element 0), high 9-8 = 1 (element 16).
        var q4: [UInt8] = Array(withUnsafeBytes(of: Float16(2).bitPattern.littleEndian) { Array($0) })
        q4 += [0x9A] + Array(repeating: 0x88, count: 15)
        q4.withUnsafeBytes { Dequantize.row(.q4_0, $0.baseAddress!, &out, count: 32) }
        #expect(out[0] == 4 && out[16] == 2 && out[1] == 0)
        // MXFP4: scale byte 129 = 2^2; byte 0x7D → low code 13 = FP4 −3.0 (element 0), high code 7 = 6.0
        // (element 16); code 0 and code 8 are both zero.
        let mx: [UInt8] = [129, 0x7D] + Array(repeating: 0x80, count: 15)
        mx.withUnsafeBytes { Dequantize.row(.mxfp4, $0.baseAddress!, &out, count: 32) }
        #expect(out[0] == -12 && out[16] == 24 && out[1] == 0 && out[17] == 0)
    }

    /// Float matrices (F16 rows by F16C where the CPU has it) against double-precision sums, for
    /// widths that are and are not whole steps of 64.
    @Test(arguments: [GGMLType.f32, .f16, .bf16], [64, 200])
    func floatMatricesMatchTheReference(type: GGMLType, columns: Int) {
        var rng = SplitMix(seed: 3)
        let rows = 5, tokens = 3
        let values = (0..<(rows * columns)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 500 }
        let x = (0..<(tokens * columns)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 100 }
        var bytes: [UInt8] = []
        for v in values {
            switch type {
            case .f32: withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
            case .f16: withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { bytes += $0 }
            default: withUnsafeBytes(of: UInt16(v.bitPattern >> 16).littleEndian) { bytes += $0 }
            }
        }
        var stored = [Float](repeating: 0, count: rows * columns)
        bytes.withUnsafeBytes { Dequantize.row(type, $0.baseAddress!, &stored, count: rows * columns) }
        let pool = ThreadPool(threads: 2), acts = QuantizedActivations(capacity: 32)  // unused by float rows
        defer { acts.deallocate() }
        var out = [Float](repeating: .nan, count: rows * tokens)
        bytes.withUnsafeBytes { data in
            let m = WeightMatrix(type: type, rows: rows, columns: columns, data: data.baseAddress!)
            x.withUnsafeBufferPointer { m.multiply($0.baseAddress!, quantized: acts, tokens: tokens, into: &out, pool: pool) }
        }
        for t in 0..<tokens {
            for r in 0..<rows {
                let expected = (0..<columns).reduce(0.0) { $0 + Double(stored[r * columns + $1]) * Double(x[t * columns + $1]) }
                #expect(abs(Double(out[t * rows + r]) - expected) <= 1e-4 * max(1, abs(expected)), "\(type) row \(r) token \(t)")
            }
        }
    }

    @Test func threadPoolCoversEveryIndexOnce() {
        let pool = ThreadPool(threads: 3)
        for total in [0, 1, 2, 5, 100, 1001] {
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(total, 1))
            hits.initialize(repeating: 0, count: max(total, 1))
            pool.parallelFor(total) { range in for i in range { hits[i] += 1 } }
            #expect((0..<total).allSatisfy { hits[$0] == 1 })
            hits.deallocate()
        }
    }
}
