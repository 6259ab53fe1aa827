import GGUF
import Testing
@testable import Tokenizers

/// Tiny vocabularies written with the GGUF writer, with results worked out by hand.
@Suite struct SyntheticVocabularyTests {
    func sentencePiece(name: String? = nil) throws -> Tokenizer {
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        if let name { w.set("general.name", .string(name)) }
        w.set("tokenizer.ggml.model", .string("llama"))
        var tokens = ["<unk>", "<s>", "</s>", "<ctl>"]
        var types: [Int32] = [2, 3, 3, 3]
        for b in 0..<256 {
            tokens.append("<0x" + String(b, radix: 16, uppercase: true).leftPadded(to: 2) + ">")
            types.append(6)
        }
        let normal = ["▁", "h", "e", "l", "o", "he", "ll", "hell", "hello", "▁hello", "w", "▁w"]
        tokens += normal
        types += normal.map { _ in 1 }
        var scores = tokens.map { _ in Float(0) }
        for (i, t) in tokens.enumerated() where types[i] == 1 { scores[i] = Float(t.count) }  // longer merges win
        w.set("tokenizer.ggml.tokens", strings: tokens)
        w.set("tokenizer.ggml.scores", floats: scores)
        w.set("tokenizer.ggml.token_type", int32s: types)
        w.set("tokenizer.ggml.bos_token_id", .uint32(1))
        w.set("tokenizer.ggml.eos_token_id", .uint32(2))
        return try Tokenizer(gguf: GGUFFile(data: w.bytes()))
    }

    @Test func sentencePieceMergesByScoreAndFallsBackToBytes() throws {
        let t = try sentencePiece()
        let id = { (s: String) in t.vocabulary.id(of: s)! }
        // add_space_prefix defaults to true for SentencePiece vocabularies.
        #expect(t.encode("hello") == [id("▁hello")])
        #expect(t.encode("hello", addSpecial: true) == [1, id("▁hello")])
        // "é" has no token: its two UTF-8 bytes become byte tokens.
        #expect(t.encode("hé") == [id("▁"), id("h"), id("<0xC3>"), id("<0xA9>")])
        #expect(t.decode(t.encode("hello hé")) == " hello hé")
        // Control tokens are plain text unless parsing special tokens; then the text after one gets a space prefix.
        #expect(t.encode("<ctl>hello", parseSpecial: true) == [3, id("▁hello")])
        #expect(!t.encode("<ctl>hello").contains(3))
        #expect(t.decode([3]) == "<ctl>")
        #expect(t.decode([3], special: false) == "")
    }

    @Test func phi3SpecialTokensDropTheWhitespaceAfterThem() throws {
        let phi = try sentencePiece(name: "Phi-3 Mini 4k Instruct")
        let id = { (s: String) in phi.vocabulary.id(of: s)! }
        // "<ctl>\n hello" reads as "<ctl>hello"; not after <s> (kept, as llama.cpp keeps it), nor in other models.
        #expect(phi.encode("<ctl>\n hello", parseSpecial: true) == [3, id("▁hello")])
        #expect(phi.encode("<ctl> \t", parseSpecial: true) == [3])
        #expect(phi.encode("<s> hello", parseSpecial: true).count > 2)
        #expect(try sentencePiece(name: "Llama").encode("<ctl>\n hello", parseSpecial: true).count > 2)
        // Unparsed, the token is text and nothing is dropped.
        #expect(phi.decode(phi.encode("<ctl>\n hello")) == " <ctl>\n hello")
    }

    @Test func bytePairsApplyMergesInRankOrder() throws {
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        w.set("tokenizer.ggml.model", .string("gpt2"))
        w.set("tokenizer.ggml.pre", .string("gpt-2"))
        var tokens = ByteLevel.encode.map { String(Unicode.Scalar($0)!) }
        tokens += ["ab", "bc", "abc", "Ġa", "<|end|>", "<tag>"]
        var types = [Int32](repeating: 1, count: tokens.count)
        types[types.count - 2] = 3
        types[types.count - 1] = 4
        w.set("tokenizer.ggml.tokens", strings: tokens)
        w.set("tokenizer.ggml.token_type", int32s: types)
        w.set("tokenizer.ggml.merges", strings: ["b c", "a b", "a bc", "Ġ a"])
        w.set("tokenizer.ggml.eos_token_id", .uint32(UInt32(tokens.count - 2)))
        let t = try Tokenizer(gguf: GGUFFile(data: w.bytes()))
        let id = { (s: String) in t.vocabulary.id(of: s)! }
        // "b c" outranks "a b", so "abc" becomes a + bc, then "a bc".
        #expect(t.encode("abc") == [id("abc")])
        #expect(t.encode("ab") == [id("ab")])
        // "a b" outranks "Ġ a": the space stays alone before "ab", but joins a lone "a".
        #expect(t.encode(" abd") == [id("Ġ"), id("ab"), id("d")])
        #expect(t.encode(" ad") == [id("Ġa"), id("d")])
        // User-defined tokens are always matched, control tokens only when parsing specials.
        #expect(t.encode("x<tag>y") == [id("x"), id("<tag>"), id("y")])
        #expect(t.encode("<|end|>").count > 1)
        #expect(t.encode("<|end|>", parseSpecial: true) == [id("<|end|>")])
        #expect(t.vocabulary.endOfGeneration.contains(id("<|end|>")))
        #expect(t.decode(t.encode("a b\tc\n é")) == "a b\tc\n é")
    }

    /// gpt-oss's harmony tokens as llama.cpp reads them: headers are text in the reply, and `<|end|>`
    /// ends a message, not the reply, when `<|return|>` and `<|call|>` are there to end it.
    @Test func harmonyHeadersAreTextAndEndIsNotTheEnd() throws {
        var w = GGUFWriter()
        w.set("general.architecture", .string("gpt-oss"))
        w.set("tokenizer.ggml.model", .string("gpt2"))
        w.set("tokenizer.ggml.pre", .string("gpt-4o"))
        let harmony = ["<|start|>", "<|channel|>", "<|message|>", "<|constrain|>", "<|end|>", "<|return|>", "<|call|>"]
        let tokens = ByteLevel.encode.map { String(Unicode.Scalar($0)!) } + harmony
        w.set("tokenizer.ggml.tokens", strings: tokens)
        w.set("tokenizer.ggml.token_type", int32s: (0..<tokens.count).map { $0 < tokens.count - harmony.count ? 1 : 3 })
        w.set("tokenizer.ggml.merges", strings: [])
        w.set("tokenizer.ggml.eos_token_id", .uint32(UInt32(tokens.count - 2)))
        let t = try Tokenizer(gguf: GGUFFile(data: w.bytes()))
        let id = { (s: String) in t.vocabulary.id(of: s)! }
        let reply = "<|channel|>final<|message|>Hi<|end|><|start|>assistant<|constrain|>"
        #expect(t.decode(t.encode(reply, parseSpecial: true), special: false) == reply)
        #expect(t.vocabulary.endOfGeneration == [id("<|return|>"), id("<|call|>")])
        #expect(t.decode([id("<|return|>")], special: false).isEmpty)
        #expect(t.vocabulary.eot != id("<|end|>"))
    }

    @Test func unknownTokenizerModelIsAClearError() throws {
        var w = GGUFWriter()
        w.set("tokenizer.ggml.model", .string("bert-ish"))
        w.set("tokenizer.ggml.tokens", strings: ["a"])
        #expect(throws: TokenizerError.unsupportedModel("bert-ish")) { try Tokenizer(gguf: GGUFFile(data: w.bytes())) }
        var noVocab = GGUFWriter()
        noVocab.set("general.architecture", .string("llama"))
        #expect(throws: TokenizerError.missingVocabulary) { try Tokenizer(gguf: GGUFFile(data: noVocab.bytes())) }
    }
}
