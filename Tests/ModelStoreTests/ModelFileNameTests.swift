import Testing
@testable import ModelStore

struct ModelFileNameTests {
    @Test func quantizationsFromPublishedNames() {
        let cases: [(String, String?)] = [
            ("Qwen2.5-7B-Instruct-Q4_K_M.gguf", "q4_k_m"), ("SmolLM2-135M-Instruct.Q4_1.gguf", "q4_1"),
            ("gemma-3-270m-q4_k_m.gguf", "q4_k_m"), ("Llama-3.3-70B-Instruct-IQ4_XS.gguf", "iq4_xs"),
            ("phi-4-F16.gguf", "f16"), ("Qwen3-8B-BF16.gguf", "bf16"), ("Qwen3-30B-A3B-UD-Q4_K_XL.gguf", "q4_k_xl"),
            ("model.gguf", nil), ("Mistral-7B-v0.3.gguf", nil), ("tinyllama-1.1b-chat-v1.0.Q8_0.gguf", "q8_0"),
        ]
        for (name, quant) in cases { #expect(ModelFileName(name)?.quantization == quant, "\(name)") }
    }

    @Test func splitPartsAreRecognised() throws {
        let part = try #require(ModelFileName("sub/Llama-3.3-70B-Instruct-Q4_K_M-00002-of-00003.gguf"))
        #expect(part.stem == "Llama-3.3-70B-Instruct-Q4_K_M" && part.part?.index == 2 && part.part?.count == 3 && part.quantization == "q4_k_m")
        #expect(ModelFileName("x-00004-of-00003.gguf")?.part == nil)
        #expect(ModelFileName("x-00001-of-00001.gguf")?.part?.count == 1)
    }

    @Test func nonModelsAreNotNames() {
        #expect(ModelFileName("README.md") == nil)
        #expect(ModelFileName("mmproj-model-f16.gguf") == nil)
        #expect(ModelFileName("x.gguf.part") == nil)
    }

    @Test func specsFromNamesAndAddresses() throws {
        #expect(try ModelSpec(parsing: "Qwen/Qwen2.5-7B-Instruct-GGUF@Q4_K_M") == ModelSpec(owner: "Qwen", repo: "Qwen2.5-7B-Instruct-GGUF", choice: "Q4_K_M"))
        #expect(try ModelSpec(parsing: "https://huggingface.co/bartowski/Foo-GGUF") == ModelSpec(owner: "bartowski", repo: "Foo-GGUF", choice: nil))
        #expect(try ModelSpec(parsing: "https://hf.co/a/b/blob/main/b-Q8_0.gguf") == ModelSpec(owner: "a", repo: "b", choice: "b-Q8_0"))
        for bad in ["nope", "a/b/c", "../x", "a/..", "a/b@", "a/.hidden", "/b"] {
            #expect(throws: StoreError.self, "\(bad)") { try ModelSpec(parsing: bad) }
        }
    }

    @Test func defaultChoiceFitsInMemory() throws {
        func model(_ q: String, _ gib: Int64) -> RepoModel {
            RepoModel(quantization: q, stem: "m-\(q)", files: [HubFile(path: "m-\(q).gguf", size: gib << 30, sha256: nil)])
        }
        let all = [model("q2_k", 3), model("q4_k_m", 5), model("q8_0", 8), model("f16", 15)]
        #expect(RepoModel.defaultChoice(in: all, memoryBytes: 24 << 30)?.quantization == "q4_k_m")
        #expect(RepoModel.defaultChoice(in: all, memoryBytes: 5 << 30)?.quantization == "q2_k")
        #expect(RepoModel.defaultChoice(in: all, memoryBytes: 1 << 30)?.quantization == "q2_k")
        #expect(RepoModel.pick("Q8_0", in: all)?.quantization == "q8_0" && RepoModel.pick("q3_k", in: all) == nil)
    }

    @Test func splitFilesOfARepoAreOneModel() {
        let files = (1...3).map { HubFile(path: "Q4_K_M/big-Q4_K_M-0000\($0)-of-00003.gguf", size: 10, sha256: nil) }
            + [HubFile(path: "big-Q8_0-00001-of-00002.gguf", size: 10, sha256: nil)]
        let models = RepoModel.models(in: files)
        #expect(models.count == 1 && models[0].files.count == 3 && models[0].quantization == "q4_k_m")
    }
}
