import GGUF
import Models
import ModelStore
import Templates

/// A downloaded model as `GET /api/v1/models` and `wick ls --json` show it.
public enum ModelListing {
    public static func entry(_ stored: StoredModel, loaded: [(id: String, contextLength: Int)]) -> Value {
        let facts = stored.facts()
        return Responses.object([
            ("type", .string(facts.map { ArchitectureRegistry.isEmbeddingOnly($0.architecture) } == true ? "embeddings" : "llm")), ("key", .string(stored.key)), ("publisher", .string(stored.owner)),
            ("display_name", .string(facts?.name ?? stored.repo)), ("path", .string(stored.path.path)), ("format", .string("gguf")),
            ("architecture", .string(facts?.architecture ?? "unknown")),
            ("params", .string(facts.map { ModelFacts.humanCount($0.parameters) } ?? "?")), ("params_count", .int(facts?.parameters ?? 0)),
            ("quantization", .string(facts?.quantization ?? stored.quantization?.uppercased() ?? "unknown")),
            ("size_bytes", .int(Int(stored.sizeBytes))), ("max_context_length", facts?.contextLength.map(Value.int) ?? .none),
            ("loaded", .bool(!loaded.isEmpty)),
            ("loaded_instances", .array(loaded.map { i in
                Responses.object([("id", .string(i.id)), ("config", Responses.object([("context_length", .int(i.contextLength))]))])
            })),
        ])
    }
}
