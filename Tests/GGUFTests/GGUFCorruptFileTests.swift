import TestSupport
import Testing
@testable import GGUF

/// Hand-made corrupt and hostile files: each must give a clear error, never a crash or a huge allocation.
@Suite struct GGUFCorruptFileTests {
    /// A little-endian byte builder for hand-made headers.
    struct Bytes {
        var b: [UInt8] = []
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        mutating func str(_ s: String) { u64(UInt64(s.utf8.count)); b += s.utf8 }
        static func header(tensors: UInt64, kvs: UInt64, version: UInt32 = 3) -> Bytes {
            var x = Bytes()
            x.u32(GGUFFile.magic); x.u32(version); x.u64(tensors); x.u64(kvs)
            return x
        }
    }

    static func parse(_ bytes: [UInt8]) -> GGUFError? {
        do {
            _ = try GGUFFile(data: bytes)
            return nil
        } catch let e as GGUFError {
            return e
        } catch {
            Issue.record("unexpected error type \(error)")
            return nil
        }
    }

    @Test func table() {
        var cases: [(String, [UInt8], (GGUFError) -> Bool)] = []
        cases.append(("empty file", [], { if case .truncated(let what, 0, 4, 0) = $0 { return what == "magic" }; return false }))
        cases.append(("bad magic", Array("GGML\u{3}\0\0\0".utf8), { if case .badMagic = $0 { return true }; return false }))
        cases.append(("version 1", Bytes.header(tensors: 0, kvs: 0, version: 1).b, { $0 == .unsupportedVersion(1) }))
        cases.append(("version 99", Bytes.header(tensors: 0, kvs: 0, version: 99).b, { $0 == .unsupportedVersion(99) }))
        cases.append(("impossible metadata count", Bytes.header(tensors: 0, kvs: UInt64.max).b, {
            if case .impossibleCount(let what, UInt64.max, _) = $0 { return what == "metadata count" }; return false
        }))
        cases.append(("impossible tensor count", Bytes.header(tensors: 1 << 60, kvs: 0).b, {
            if case .impossibleCount(let what, _, _) = $0 { return what == "tensor count" }; return false
        }))
        var longKey = Bytes.header(tensors: 0, kvs: 1)
        longKey.u64(1 << 40)
        longKey.b += Array(repeating: 0x41, count: 20)
        cases.append(("string longer than the file", longKey.b, { if case .truncated(let what, 24, _, _) = $0 { return what.contains("key") }; return false }))
        var unknownType = Bytes.header(tensors: 0, kvs: 1)
        unknownType.str("k"); unknownType.u32(13); unknownType.u32(0)
        cases.append(("unknown value type", unknownType.b, { $0 == .unknownValueType(13, key: "k") }))
        var hugeArray = Bytes.header(tensors: 0, kvs: 1)
        hugeArray.str("arr"); hugeArray.u32(9); hugeArray.u32(10); hugeArray.u64(1 << 61)
        cases.append(("array count beyond the file", hugeArray.b, { if case .impossibleCount = $0 { return true }; return false }))
        var deep = Bytes.header(tensors: 0, kvs: 1)
        deep.str("deep"); deep.u32(9)
        for _ in 0..<20 { deep.u32(9); deep.u64(1) }
        deep.u32(4); deep.u64(0)
        cases.append(("arrays nested too deep", deep.b, { $0 == .nestingTooDeep(key: "deep") }))
        var dup = Bytes.header(tensors: 0, kvs: 2)
        for _ in 0..<2 { dup.str("k"); dup.u32(4); dup.u32(1) }
        cases.append(("duplicate key", dup.b, { $0 == .duplicateKey("k") }))
        var align = Bytes.header(tensors: 0, kvs: 1)
        align.str("general.alignment"); align.u32(4); align.u32(48)
        cases.append(("alignment not a power of two", align.b, { $0 == .badAlignment(48) }))

        func tensorFile(dims: [UInt64], type: UInt32 = 0, offset: UInt64 = 0, dataBytes: Int = 64) -> [UInt8] {
            var t = Bytes.header(tensors: 1, kvs: 0)
            t.str("w"); t.u32(UInt32(dims.count)); for d in dims { t.u64(d) }
            t.u32(type); t.u64(offset)
            while t.b.count % 32 != 0 { t.b.append(0) }
            t.b += Array(repeating: 0, count: dataBytes)
            return t.b
        }
        cases.append(("zero dimensions", tensorFile(dims: []), { if case .badDimensions(tensor: "w", _) = $0 { return true }; return false }))
        cases.append(("five dimensions", tensorFile(dims: [1, 1, 1, 1, 1]), { if case .badDimensions(tensor: "w", _) = $0 { return true }; return false }))
        cases.append(("dimension of zero", tensorFile(dims: [4, 0]), { if case .badDimensions(tensor: "w", _) = $0 { return true }; return false }))
        cases.append(("overflowing dimensions", tensorFile(dims: [1 << 32, 1 << 32, 1 << 32]), {
            if case .badDimensions(tensor: "w", let why) = $0 { return why.contains("overflow") }; return false
        }))
        cases.append(("unknown tensor type", tensorFile(dims: [4], type: 77), { $0 == .unknownTensorType(77, tensor: "w") }))
        cases.append(("row not a whole number of blocks", tensorFile(dims: [33], type: 8), { if case .badDimensions(tensor: "w", _) = $0 { return true }; return false }))
        cases.append(("tensor data beyond the file", tensorFile(dims: [32], dataBytes: 64), {
            $0 == .tensorOutOfBounds(tensor: "w", offset: 0, size: 128, dataSize: 64)
        }))
        cases.append(("offset beyond the file", tensorFile(dims: [4], offset: 1 << 40), { if case .tensorOutOfBounds = $0 { return true }; return false }))
        cases.append(("unaligned offset", tensorFile(dims: [4], offset: 4), { if case .badDimensions(tensor: "w", _) = $0 { return true }; return false }))
        var dupTensor = Bytes.header(tensors: 2, kvs: 0)
        for _ in 0..<2 { dupTensor.str("w"); dupTensor.u32(1); dupTensor.u64(4); dupTensor.u32(0); dupTensor.u64(0) }
        dupTensor.b += Array(repeating: 0, count: 64)
        cases.append(("duplicate tensor", dupTensor.b, { $0 == .duplicateTensor("w") }))

        for (name, bytes, check) in cases {
            guard let error = Self.parse(bytes) else {
                Issue.record("\(name): parsed without error")
                continue
            }
            #expect(check(error), "\(name): got \(error)")
            #expect(!error.description.isEmpty)
        }
    }

    @Test func everyTruncationOfASmallFileIsAnError() {
        let bytes = GGUFRoundTripTests.sample().bytes()
        let lastTensorEnd = bytes.count  // the writer pads the last tensor; its data ends before the padding
        for n in 0..<lastTensorEnd - 32 {
            #expect(Self.parse(Array(bytes.prefix(n))) != nil, "prefix of \(n) bytes parsed")
        }
    }

    @Test func randomBitFlipsNeverCrash() {
        let bytes = GGUFRoundTripTests.sample().bytes()
        var rng = SplitMix(seed: 42)
        var failures = 0
        for _ in 0..<3000 {
            var copy = bytes
            for _ in 0..<Int(rng.next() % 4 + 1) {
                let i = Int(rng.next() % UInt64(copy.count))
                copy[i] ^= UInt8(1 << (rng.next() % 8))
            }
            if Self.parse(copy) != nil { failures += 1 }
        }
        #expect(failures > 0)
    }
}
