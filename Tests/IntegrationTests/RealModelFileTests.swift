import GGUF
import Testing

@Suite struct RealModelFileTests {
    @Test func factsOfTheTestModels() throws {
        let expected: [(String, String, Int, String, Int)] = [
            (TestModels.smollm, "llama", 134_515_008, "Q4_1", 8192),
            (TestModels.gemma, "gemma3", 268_098_176, "Q4_K_M", 32768),
            (TestModels.qwen, "qwen2", 630_167_424, "Q4_K_M", 32768),
        ]
        for (name, arch, params, quant, ctx) in expected {
            let facts = ModelFacts(file: try TestModels.open(name), fallbackName: name)
            #expect(facts.architecture == arch)
            #expect(facts.parameters == params)
            #expect(facts.quantization == quant)
            #expect(facts.contextLength == ctx)
        }
    }

    /// Random truncations of a real file: each must be a clear error (or, past the last tensor, a valid file).
    @Test(arguments: TestModels.all)
    func randomTruncationsAreErrors(model: String) throws {
        let full = try MappedBytes(path: TestModels.path(model))
        let file = try GGUFFile(bytes: full)
        let lastEnd = file.tensors.map { file.dataOffset + Int($0.offset) + $0.byteCount }.max()!
        var rng = SystemRandomNumberGenerator()
        // Cut inside the header (dense with structure) and anywhere in the file.
        let cuts = (0..<12).map { _ in Int.random(in: 0..<file.dataOffset, using: &rng) } + (0..<12).map { _ in Int.random(in: 0..<lastEnd, using: &rng) }
        for cut in cuts {
            #expect(throws: GGUFError.self, "cut at \(cut)") { try GGUFFile(bytes: full.prefix(cut)) }
        }
        #expect(try GGUFFile(bytes: full.prefix(lastEnd)).tensors.count == file.tensors.count)
    }

    /// Bit flips in a real header, cut off before the tensor data: every variant must be a clear error.
    @Test func bitFlipsInARealHeader() throws {
        let full = try MappedBytes(path: TestModels.path(TestModels.smollm))
        let file = try GGUFFile(bytes: full)
        let header = Array(full.buffer[0..<file.dataOffset])
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<40 {
            var copy = header
            // Most of the header is token text; aim half the flips at its first 4 KiB of structure.
            let limit = Bool.random(using: &rng) ? min(4096, copy.count) : copy.count
            let i = Int.random(in: 0..<limit, using: &rng)
            copy[i] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
            #expect(throws: GGUFError.self, "flip at \(i)") { try GGUFFile(data: copy) }
        }
    }
}
