import GGUF
import Kernels
import Testing
@testable import Models

/// What one generated token reads, the numerator of `wick bench`'s generation ceiling.
@Suite struct WeightTrafficTests {
    /// Bytes of the file's tensors whose names pass `include`.
    func bytes(_ file: GGUFFile, _ include: (String) -> Bool) -> Int {
        file.tensors.filter { include($0.name) }.reduce(0) { $0 + $1.byteCount }
    }

    @Test func aDenseModelReadsEveryLayerMatrixAndTheTiedOutputOnce() throws {
        let file = try GGUFFile(data: ModelLoadingErrorTests.tinyLlama().bytes())
        let model = try Transformer(gguf: file, vocabularySize: 8, threads: 1)
        let layers = bytes(file) { $0.hasPrefix("blk.") && !$0.contains("norm") }
        // No output.weight: the embeddings are the output projection, read whole for the logits.
        #expect(model.weightBytesPerToken == layers + bytes(file) { $0 == "token_embd.weight" })
        #expect(layers > 0)
    }

    @Test func aMixtureOfExpertsReadsTheRouterAndOnlyTheExpertsUsed() throws {
        let file = try GGUFFile(data: MixtureOfExpertsTests.tinyQwen3(experts: (4, 2)).bytes())
        let model = try Transformer(gguf: file, vocabularySize: 8, threads: 1)
        let attention = bytes(file) { $0.hasPrefix("blk.") && $0.contains("attn_") && !$0.contains("norm") }
        let routers = bytes(file) { $0.hasSuffix("ffn_gate_inp.weight") }
        let experts = bytes(file) { $0.hasSuffix("_exps.weight") }
        #expect(model.weightBytesPerToken == attention + routers + experts / 4 * 2 + bytes(file) { $0 == "token_embd.weight" })
    }

    @Test func readBandwidthIsMeasured() {
        // Any machine reads more than 100 MB/s; a broken timer or byte count gives 0, ∞ or NaN.
        let rate = MemoryBandwidth.read(pool: ThreadPool(threads: 2), bytes: 16 << 20, repetitions: 2)
        #expect(rate.isFinite && rate > 1e8, "\(rate)")
    }
}
