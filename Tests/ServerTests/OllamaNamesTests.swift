import Testing
@testable import ModelStore
@testable import Server
@testable import Templates

/// What Ollama clients send that is not a chat: `keep_alive` durations and `hf.co/…` model names.
struct OllamaNamesTests {
    @Test func keepAliveDurations() throws {
        #expect(try OllamaKeepAlive.parse(nil) == nil)
        #expect(try OllamaKeepAlive.parse(.int(0)) == .seconds(0))
        #expect(try OllamaKeepAlive.parse(.int(-1)) == .forever)
        #expect(try OllamaKeepAlive.parse(.double(1.5)) == .seconds(2))
        #expect(try OllamaKeepAlive.parse(.double(1e300)) == .seconds(1_000_000_000))
        #expect(try OllamaKeepAlive.parse(.string("5m")) == .seconds(300))
        #expect(try OllamaKeepAlive.parse(.string("1h30m")) == .seconds(5400))
        #expect(try OllamaKeepAlive.parse(.string("1.5s")) == .seconds(2))
        #expect(try OllamaKeepAlive.parse(.string("300ms")) == .seconds(1))
        #expect(try OllamaKeepAlive.parse(.string("-1m")) == .forever)
        #expect(try OllamaKeepAlive.parse(.string("600")) == .seconds(600))
        #expect(try OllamaKeepAlive.parse(.string("99999999999h")) == .seconds(1_000_000_000))
        for bad: Value in [.string("soon"), .string(""), .string("5x"), .string("m"), .bool(true), .double(.nan), .array([])] {
            #expect(throws: APIError.self, "\(bad)") { try OllamaKeepAlive.parse(bad) }
        }
    }

    @Test func hubNamesAsOllamaWritesThem() throws {
        #expect(OllamaModelName("hf.co/bartowski/Qwen-GGUF:Q4_K_M")?.specText == "bartowski/Qwen-GGUF@Q4_K_M")
        #expect(OllamaModelName("huggingface.co/bartowski/Qwen-GGUF")?.specText == "bartowski/Qwen-GGUF")
        #expect(OllamaModelName("HF.CO/bartowski/Qwen-GGUF:latest")?.specText == "bartowski/Qwen-GGUF")
        for other in ["llama3.2", "llama3.2:1b", "hf.co/", "hf.co/owner", "hf.co/owner/repo:", "hf.co/../x", "bartowski/Qwen-GGUF"] {
            #expect(OllamaModelName(other) == nil, "\(other)")
        }
        func stored(_ key: String, _ quant: String?) -> StoredModel {
            let parts = key.split(separator: "@")[0].split(separator: "/").map(String.init)
            return StoredModel(key: key, owner: parts[0], repo: parts[1], quantization: quant, files: [], sizeBytes: 0)
        }
        let two = [stored("bartowski/Qwen-GGUF@Q4_K_M", "Q4_K_M"), stored("bartowski/Qwen-GGUF@Q8_0", "Q8_0"), stored("other/Qwen-GGUF", "Q4_K_M")]
        #expect(OllamaModelName("hf.co/bartowski/qwen-gguf:q8_0")?.stored(in: two)?.key == "bartowski/Qwen-GGUF@Q8_0")
        #expect(OllamaModelName("hf.co/bartowski/Qwen-GGUF")?.stored(in: two) == nil)  // which one: not said
        #expect(OllamaModelName("hf.co/bartowski/Qwen-GGUF:Q2_K")?.stored(in: two) == nil)
        #expect(OllamaModelName("hf.co/other/Qwen-GGUF")?.stored(in: two)?.key == "other/Qwen-GGUF")
    }
}
