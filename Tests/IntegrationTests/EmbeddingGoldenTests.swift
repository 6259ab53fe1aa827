import Foundation
import Models
import Testing
import Tokenizers

/// Pooled, unit-length embeddings compared with llama.cpp's (scripts/make-embedding-fixtures): the
/// chat models' by mean, an embedding model's as its file says (Qwen3-Embedding: the last token's,
/// after the end-of-text token its tokenizer appends).
@Suite(.serialized) struct EmbeddingGoldenTests {
    struct Golden: Decodable {
        struct Model: Decodable {
            let vectors: [[Float]]
            let tokens: [[Int32]]
        }
        let texts: [String]
        let models: [String: Model]
    }

    @Test(arguments: TestModels.real + TestModels.embedding)
    func embeddingsPointWhereLlamaCppsDo(model: String) throws {
        let golden = try JSONDecoder().decode(Golden.self, from: TestModels.fixture("embedding-golden.json"))
        let reference = try #require(golden.models[model])
        let file = try TestModels.open(model)
        let tokenizer = try Tokenizer(gguf: file)
        let transformer = try Transformer(gguf: file, vocabularySize: tokenizer.vocabulary.count)
        let cache = transformer.makeCache(contextLength: 256)
        var ours: [[Float]] = []
        var lowest: Float = 1
        for (text, (tokens, theirs)) in zip(golden.texts, zip(reference.tokens, reference.vectors)) {
            #expect(tokenizer.encode(text, addSpecial: true) == tokens)
            cache.truncate(to: 0)
            let vector = transformer.embedding(tokens, cache: cache)
            #expect(vector.count == theirs.count)
            let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(norm - 1) < 1e-4)
            let cosine = zip(vector, theirs).reduce(0) { $0 + $1.0 * $1.1 }
            #expect(cosine > 0.995, "\(model): cosine \(cosine) with llama.cpp for \(text.debugDescription)")
            lowest = min(lowest, cosine)
            ours.append(vector)
        }
        print("\(model): lowest cosine with llama.cpp's embeddings \(lowest)")
        // The texts' similarities to one another agree too (what a search over them would rank by).
        for i in ours.indices {
            for j in ours.indices where j > i {
                let mine = zip(ours[i], ours[j]).reduce(0) { $0 + $1.0 * $1.1 }
                let theirs = zip(reference.vectors[i], reference.vectors[j]).reduce(0) { $0 + $1.0 * $1.1 }
                #expect(abs(mine - theirs) < 0.02, "\(model): similarity of texts \(i) and \(j): \(mine) vs \(theirs)")
            }
        }
    }
}
