import Testing
@testable import Tokenizers

/// Splits worked out by hand from each pattern's regular expression.
@Suite struct PreTokenizerTests {
    func words(_ name: String, _ text: String) throws -> [String] {
        let pre = try #require(PreTokenizer(name: name))
        let cps = text.unicodeScalars.map(\.value)
        return pre.split(cps).map { r in String(String.UnicodeScalarView(cps[r].map { Unicode.Scalar($0)! })) }
    }

    @Test func gpt2() throws {
        #expect(try words("gpt-2", "Hello world's  end") == ["Hello", " world", "'s", " ", " end"])
        #expect(try words("gpt-2", "x\ty") == ["x", "\t", "y"])
        #expect(try words("gpt-2", "a   ") == ["a", "   "])
        #expect(try words("gpt-2", "12 ab!? 'RE") == ["12", " ab", "!?", " '", "RE"])
    }

    @Test func smollmSplitsEveryDigit() throws {
        #expect(try words("smollm", "abc 123") == ["abc", " ", "1", "2", "3"])
    }

    @Test func llama3GroupsDigitsInThrees() throws {
        #expect(try words("llama-bpe", "Hello 1234567 world") == ["Hello", " ", "123", "456", "7", " world"])
        #expect(try words("llama-bpe", "I'M ok\n\n  x") == ["I", "'M", " ok", "\n\n", " ", " x"])
        #expect(try words("llama-bpe", "(x) !!\n") == ["(x", ")", " !!\n"])
    }

    @Test func qwen2SplitsEveryDigit() throws {
        #expect(try words("qwen2", "v12 ") == ["v", "1", "2", " "])
        #expect(try words("qwen2", "  \n  a") == ["  \n", " ", " a"])
    }

    @Test func tekkenIsCaseAware() throws {
        #expect(try words("tekken", "HELLOworld") == ["HELLOworld"])
        #expect(try words("tekken", "helloWorld") == ["hello", "World"])
        #expect(try words("tekken", "ABC") == ["ABC"])
        #expect(try words("tekken", "éAB") == ["é", "AB"])
        #expect(try words("tekken", "ABé") == ["ABé"])
        #expect(try words("tekken", "a/b: 42//\n") == ["a", "/b", ":", " ", "4", "2", "//\n"])
    }

    @Test func defaultSplitsPunctuationAndDigitTriples() throws {
        #expect(try words("default", "a+b=12345!") == ["a", "+", "b", "=", "123", "45", "!"])
    }

    @Test func unknownNameIsRejected() {
        #expect(PreTokenizer(name: "no-such-pre") == nil)
    }
}
