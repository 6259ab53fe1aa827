import Foundation
import GGUF
import Testing

/// The real models of scripts/fetch-test-models, and the tiny random-weight ones of
/// scripts/make-tiny-models (architectures no package ships). Tests fail (not skip) when they are
/// missing: the README's test command makes them first.
enum TestModels {
    static let smollm = "smollm2-135m-instruct-q4_1"
    static let gemma = "gemma-3-270m-q4_k_m"
    static let qwen = "qwen2.5-coder-0.5b-instruct-q4_k_m"
    static let real = [smollm, gemma, qwen]
    static let tiny = ["tiny-qwen3", "tiny-llama31", "tiny-llama-iq4", "tiny-qwen3moe", "tiny-qwen3-yarn", "tiny-llama-yarn", "tiny-gpt-oss", "tiny-phi3"]
    static let all = real + tiny
    /// Tiny embedding models (their embeddings are compared with llama.cpp's, not their continuations).
    static let embedding = ["tiny-qwen3-embedding", "tiny-bert", "tiny-nomic-bert"]

    static var directory: String {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["WICK_TEST_MODELS"], !dir.isEmpty { return dir }
        let cache = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.cache")
        return cache + "/wick/test-models"
    }

    static func path(_ name: String) throws -> String {
        let p = directory + "/" + name + ".gguf"
        guard FileManager.default.fileExists(atPath: p) else {
            throw MissingModel(path: p)
        }
        return p
    }

    static func open(_ name: String) throws -> GGUFFile { try GGUFFile(path: path(name)) }

    static func fixture(_ file: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/" + file))
    }

    struct MissingModel: Error, CustomStringConvertible {
        let path: String
        var description: String { "test model missing at \(path): run scripts/fetch-test-models and scripts/make-tiny-models" }
    }
}
