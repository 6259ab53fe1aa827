import Foundation
import GGUF
import Testing
import Tokenizers

/// Token ids produced by llama.cpp (scripts/make-tokenizer-fixtures) for the committed corpus.
@Suite struct TokenizerGoldenTests {
    struct Golden: Decodable {
        struct Case: Decodable {
            let text: Int
            let special: Bool
            let bos: Bool
            let ids: [Int32]
        }
        /// The WordPiece vocabulary llama.cpp tokenized with (no test model is a BERT).
        struct WordPieceVocabulary: Decodable {
            let tokens: [String]
            let types: [Int32]
        }
        let corpus: [String]
        let models: [String: [Case]]
        let wordpiece: WordPieceVocabulary
    }

    static let golden: Golden? = try? JSONDecoder().decode(Golden.self, from: TestModels.fixture("tokenizer-golden.json"))

    /// A test model's tokenizer, or for "model@pre" that model's vocabulary with another pre-tokenizer,
    /// or the fixture's WordPiece vocabulary.
    static func tokenizer(_ name: String) throws -> Tokenizer {
        if name == "wordpiece" {
            let vocabulary = try #require(golden).wordpiece
            var w = GGUFWriter()
            w.set("general.architecture", .string("bert"))
            w.set("tokenizer.ggml.model", .string("bert"))
            w.set("tokenizer.ggml.tokens", strings: vocabulary.tokens)
            w.set("tokenizer.ggml.token_type", int32s: vocabulary.types)
            return try Tokenizer(gguf: GGUFFile(data: w.bytes()))
        }
        let parts = name.split(separator: "@").map(String.init)
        let file = try TestModels.open(parts[0])
        guard parts.count == 2 else { return try Tokenizer(gguf: file) }
        var w = GGUFWriter()
        for key in file.keys where key.hasPrefix("tokenizer.") || key == "general.architecture" {
            w.set(key, file.metadata[key]!)
        }
        w.set("tokenizer.ggml.pre", .string(parts[1]))
        return try Tokenizer(gguf: GGUFFile(data: w.bytes()))
    }

    static let cases = TestModels.real + ["llama-bpe", "tekken", "gpt-4o", "default"].map { TestModels.qwen + "@" + $0 } + ["wordpiece"]

    @Test(arguments: cases)
    func idsMatchLlamaCpp(model: String) throws {
        let golden = try #require(Self.golden)
        let tokenizer = try Self.tokenizer(model)
        let cases = try #require(golden.models[model])
        #expect(golden.corpus.count >= 60)
        var mismatches = 0
        for c in cases {
            let text = golden.corpus[c.text]
            let got = tokenizer.encode(text, addSpecial: c.bos, parseSpecial: c.special)
            if got != c.ids {
                mismatches += 1
                Issue.record("\(model) special=\(c.special) bos=\(c.bos) \(text.debugDescription.prefix(60)): got \(got.prefix(40)) want \(c.ids.prefix(40))")
            }
        }
        #expect(mismatches == 0)
    }

    @Test(arguments: TestModels.real)
    func plainTextRoundTrips(model: String) throws {
        let golden = try #require(Self.golden)
        let tokenizer = try Tokenizer(gguf: TestModels.open(model))
        for text in golden.corpus {
            let ids = tokenizer.encode(text)
            // SentencePiece vocabularies with a space prefix give it back; none of the test models adds one.
            #expect(tokenizer.decode(ids) == text, "\(model): \(text.debugDescription.prefix(60))")
        }
    }

    @Test func streamingDecodeEqualsWholeDecode() throws {
        let golden = try #require(Self.golden)
        let tokenizer = try Tokenizer(gguf: TestModels.open(TestModels.qwen))
        for text in golden.corpus {
            var stream = StreamingDetokenizer(tokenizer: tokenizer)
            var out = ""
            for id in tokenizer.encode(text) {
                let part = stream.append(id)
                #expect(!part.unicodeScalars.contains("\u{FFFD}") || text.unicodeScalars.contains("\u{FFFD}"))
                out += part
            }
            out += stream.flush()
            #expect(out == text)
        }
    }

    @Test func endOfGenerationTokens() throws {
        let qwen = try Tokenizer(gguf: TestModels.open(TestModels.qwen))
        #expect(qwen.vocabulary.endOfGeneration.isSuperset(of: [qwen.vocabulary.id(of: "<|im_end|>")!, qwen.vocabulary.id(of: "<|endoftext|>")!]))
        let gemma = try Tokenizer(gguf: TestModels.open(TestModels.gemma))
        #expect(gemma.vocabulary.endOfGeneration.contains(gemma.vocabulary.id(of: "<end_of_turn>")!))
        #expect(gemma.vocabulary.addBOS)
    }
}
