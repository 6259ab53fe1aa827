import Testing
@testable import GGUF

@Suite struct GGUFRoundTripTests {
    static func sample(alignment: Int = 32) -> GGUFWriter {
        var w = GGUFWriter()
        w.alignment = alignment
        w.set("general.architecture", .string("llama"))
        w.set("general.name", .string("tiny ünïcode"))
        w.set("llama.context_length", .uint32(4096))
        w.set("llama.embedding_length", .uint64(8))
        w.set("llama.rope.freq_base", .float32(10000))
        w.set("some.f64", .float64(-2.5))
        w.set("some.i8", .int8(-3))
        w.set("some.u8", .uint8(250))
        w.set("some.i16", .int16(-300))
        w.set("some.u16", .uint16(60000))
        w.set("some.i32", .int32(-70000))
        w.set("some.i64", .int64(-1 << 40))
        w.set("some.flag", .bool(true))
        w.set("tokenizer.ggml.tokens", strings: ["a", "b", ""])
        w.set("tokenizer.ggml.scores", floats: [0.5, -1, 2])
        w.set("nested", .array(.array, [.array(.int32, [.int32(1), .int32(2)]), .array(.string, [])]))
        w.addTensor("token_embd.weight", dimensions: [8, 3], floats: (0..<24).map { Float($0) / 4 })
        w.addTensor("output_norm.weight", dimensions: [8], floats: Array(repeating: 1, count: 8))
        w.addTensor("blk.0.q.weight", dimensions: [32, 2], type: .q8_0, data: (0..<68).map { UInt8($0) })
        return w
    }

    @Test(arguments: [32, 64, 1])
    func roundTripKeepsEveryValue(alignment: Int) throws {
        let w = Self.sample(alignment: alignment)
        let f = try GGUFFile(data: w.bytes())
        #expect(f.version == 3)
        #expect(f.alignment == alignment)
        #expect(f.architecture == "llama")
        #expect(try f.string("general.name") == "tiny ünïcode")
        #expect(f.contextLength == 4096)
        #expect(try f.integer("llama.embedding_length") == 8)
        #expect(try f.float("llama.rope.freq_base") == 10000)
        #expect(f.metadata["some.f64"] == .float64(-2.5))
        #expect(f.metadata["some.i8"] == .int8(-3))
        #expect(f.metadata["some.u8"] == .uint8(250))
        #expect(f.metadata["some.i16"] == .int16(-300))
        #expect(f.metadata["some.u16"] == .uint16(60000))
        #expect(f.metadata["some.i32"] == .int32(-70000))
        #expect(f.metadata["some.i64"] == .int64(-1 << 40))
        #expect(try f.bool("some.flag") == true)
        #expect(try f.stringArray("tokenizer.ggml.tokens") == ["a", "b", ""])
        #expect(try f.floatArray("tokenizer.ggml.scores") == [0.5, -1, 2])
        #expect(f.metadata["nested"] == .array(.array, [.array(.int32, [.int32(1), .int32(2)]), .array(.string, [])]))
        #expect(f.keys.first == "general.architecture")

        #expect(f.tensors.map(\.name) == ["token_embd.weight", "output_norm.weight", "blk.0.q.weight"])
        let embd = try #require(f.tensor(named: "token_embd.weight"))
        #expect(embd.dimensions == [8, 3])
        #expect(embd.elementCount == 24)
        #expect(embd.byteCount == 96)
        let raw = f.data(of: embd)
        let floats = (0..<24).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        #expect(floats == (0..<24).map { Float($0) / 4 })
        let q = try #require(f.tensor(named: "blk.0.q.weight"))
        #expect(q.type == .q8_0)
        #expect(q.byteCount == 68)
        #expect(Array(f.data(of: q)) == (0..<68).map { UInt8($0) })
        #expect((f.dataOffset + Int(q.offset)) % alignment == 0)
    }

    @Test func wrongTypeIsAnErrorNamingTheKey() throws {
        let f = try GGUFFile(data: Self.sample().bytes())
        #expect(throws: GGUFError.wrongType(key: "general.name", expected: "integer", found: "string")) {
            try f.integer("general.name")
        }
        #expect(try f.string("missing.key") == nil)
    }

    @Test func versionTwoIsRead() throws {
        var w = Self.sample()
        w.version = 2
        #expect(try GGUFFile(data: w.bytes()).version == 2)
    }

    @Test func modelFactsCountParametersAndNameTheQuantization() throws {
        var w = Self.sample()
        w.set("general.file_type", .uint32(15))
        let facts = ModelFacts(file: try GGUFFile(data: w.bytes()), fallbackName: "x")
        #expect(facts.name == "tiny ünïcode")
        #expect(facts.architecture == "llama")
        #expect(facts.parameters == 24 + 8 + 64)
        #expect(facts.quantization == "Q4_K_M")
        #expect(facts.contextLength == 4096)
        #expect(facts.tensorTypes.first?.type == "Q8_0")
        #expect(ModelFacts.humanCount(134_515_008) == "135M")
        #expect(ModelFacts.humanCount(1_234_000_000) == "1.2B")
        #expect(ModelFacts.humanBytes(98_362_432) == "93.8 MiB")
    }
}
