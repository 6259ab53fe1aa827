import ArgumentParser
import Foundation
import GGUF
import Models

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a model file's facts: architecture, size, quantization, context length.")

    @Argument(help: "Path to a GGUF file.") var file: String
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Also list every metadata key (long arrays are summarised).") var metadata = false

    func run() throws {
        let gguf = try GGUFFile(path: file)
        let facts = ModelFacts(file: gguf, fallbackName: URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(facts), as: UTF8.self))
            return
        }
        let rows: [(String, String)] = [
            ("name", facts.name),
            ("architecture", facts.architecture),
            ("runs", ArchitectureRegistry.refusal(of: gguf).map { "no: \($0)" } ?? "yes"),
            ("parameters", "\(ModelFacts.humanCount(facts.parameters)) (\(facts.parameters))"),
            ("quantization", facts.quantization),
            ("tensor types", facts.tensorTypes.map { "\($0.type)×\($0.tensors)" }.joined(separator: ", ")),
            ("context length", facts.contextLength.map(String.init) ?? "unknown"),
            ("layers", facts.layers.map(String.init) ?? "-"),
            ("embedding", facts.embeddingLength.map(String.init) ?? "-"),
            ("heads (kv)", "\(facts.headCount.map(String.init) ?? "-") (\(facts.headCountKV.map(String.init) ?? "-"))"),
            ("vocabulary", facts.vocabularySize.map(String.init) ?? "-"),
            ("size", "\(ModelFacts.humanBytes(facts.sizeBytes)) (\(facts.sizeBytes) bytes)"),
        ]
        for (k, v) in rows { print(k.padding(toLength: 16, withPad: " ", startingAt: 0) + v) }
        if metadata {
            print("")
            for key in gguf.keys { print("\(key) = \(summary(gguf.metadata[key]!))") }
        }
    }

    private func summary(_ value: GGUFValue) -> String {
        switch value {
        case .string(let s): return s.count > 80 ? "\(String(s.prefix(80)).debugDescription)… (\(s.utf8.count) bytes)" : s.debugDescription
        case .array(let type, let items):
            let head = items.prefix(6).map(summary).joined(separator: ", ")
            return "[\(type) × \(items.count)] [\(head)\(items.count > 6 ? ", …" : "")]"
        default: return "\(value)".replacingOccurrences(of: "GGUF.GGUFValue.", with: "")
        }
    }
}
