import Foundation
import Hummingbird
import Templates

/// `/v1/embeddings`: one vector per input (a string, strings, token ids or lists of token ids),
/// pooled as the model's metadata says and scaled to unit length, as floats or base64 (the OpenAI
/// SDKs ask for base64 by default).
struct EmbeddingsHandler: Sendable {
    let model: ChatModel
    /// Computes the vectors: the model itself, or a fake in tests.
    var scheduler: any InferenceScheduler

    init(model: ChatModel, scheduler: (any InferenceScheduler)? = nil) {
        self.model = model
        self.scheduler = scheduler ?? model
    }

    /// The inputs of a request: text or token ids.
    enum Input: Equatable {
        case text(String)
        case tokens([Int32])
    }

    struct Request {
        var model: String?
        var inputs: [Input] = []
        var base64 = false
        /// The vector size the client asked for: accepted when it is the model's own.
        var dimensions: Int?
        /// Inputs longer than the context are cut to it (Ollama's `truncate`) rather than refused.
        var truncate = false

        init(json text: String) throws {
            try self.init(body: FieldReader.object(json: text))
        }

        init(body: Value.Object) throws {
            let f = FieldReader(body)
            model = try f.string("model")
            switch try f.string("encoding_format") ?? "float" {
            case "float": base64 = false
            case "base64": base64 = true
            case let other: throw APIError.invalid("'encoding_format' must be 'float' or 'base64', not '\(other)'.", param: "encoding_format")
            }
            dimensions = try f.integer("dimensions", in: 1...(1 << 20))
            let invalid = APIError.invalid("'input' must be a string, an array of strings, an array of token ids or an array of such arrays.", param: "input")
            switch body["input"] {
            case .string(let s)?: inputs = [.text(s)]
            case .array(let items)? where !items.isEmpty:
                if items.allSatisfy({ numericValue($0) != nil }) {
                    inputs = [.tokens(try Self.tokenIDs(items, invalid))]
                } else {
                    inputs = try items.map { item in
                        switch item {
                        case .string(let s): return .text(s)
                        case .array(let ids) where !ids.isEmpty: return .tokens(try Self.tokenIDs(ids, invalid))
                        default: throw invalid
                        }
                    }
                }
            case nil: throw APIError.invalid("'input' is required.", param: "input")
            default: throw invalid
            }
            if inputs.count > 2048 { throw APIError.invalid("At most 2048 inputs are allowed per request.", param: "input") }
            if inputs.contains(.text("")) { throw APIError.invalid("'input' must not contain empty strings.", param: "input") }
        }

        static func tokenIDs(_ items: [Value], _ invalid: APIError) throws -> [Int32] {
            try items.map {
                guard case .int(let i) = $0, let id = Int32(exactly: i) else { throw invalid }
                return id
            }
        }
    }

    /// The request's vectors, and how many tokens their inputs took.
    func vectors(_ request: Request) async throws -> (vectors: [[Float]], tokens: Int) {
        if let dimensions = request.dimensions, dimensions != model.embeddingSize {
            throw APIError.invalid("This model's embeddings have \(model.embeddingSize) dimensions, not \(dimensions): set 'dimensions' to \(model.embeddingSize) or leave it out.",
                                   param: "dimensions")
        }
        let sequences = try request.inputs.map { input -> [Int32] in
            let tokens: [Int32]
            switch input {
            case .text(let s): tokens = model.tokenizer.encode(s, addSpecial: true, parseSpecial: false)
            case .tokens(let ids):
                guard ids.allSatisfy({ $0 >= 0 && Int($0) < model.tokenizer.vocabulary.count }) else {
                    throw APIError.invalid("'input' holds a token id outside this model's vocabulary (0..<\(model.tokenizer.vocabulary.count)).", param: "input")
                }
                tokens = ids
            }
            if request.truncate { return Array(tokens.prefix(model.contextLength)) }
            guard tokens.count <= model.contextLength else {
                // Elasticsearch reads "Please reduce your prompt; or completion length." as content too
                // large, and truncates and retries.
                throw APIError.invalid("This model's maximum context length is \(model.contextLength) tokens. However, an input has \(tokens.count) tokens. Please reduce your prompt; or completion length.",
                                       param: "input", code: "context_length_exceeded")
            }
            return tokens
        }
        return (try await scheduler.embed(sequences), sequences.reduce(0) { $0 + $1.count })
    }

    func handle(body: Value.Object) async throws -> Response {
        let request = try Request(body: body)
        let (vectors, tokens) = try await vectors(request)
        let data: [Value] = vectors.enumerated().map { index, vector in
            let encoded: Value = request.base64 ? .string(Self.base64(vector)) : .array(vector.map { .double(Double($0)) })
            return Responses.object([("object", .string("embedding")), ("index", .int(index)), ("embedding", encoded)])
        }
        return WickServer.json(Responses.object([
            ("object", .string("list")), ("data", .array(data)), ("model", .string(model.id)),
            ("usage", Responses.object([("prompt_tokens", .int(tokens)), ("total_tokens", .int(tokens))])),
        ]))
    }

    /// Little-endian float32 bytes in base64, as OpenAI encodes embeddings.
    static func base64(_ vector: [Float]) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(vector.count * 4)
        for v in vector { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        return Data(bytes).base64EncodedString()
    }
}
