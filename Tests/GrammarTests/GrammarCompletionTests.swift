import Grammar
import Templates
import Testing

/// The shortest ending of a grammar from any point: what it adds is accepted, the grammar may end
/// after it, and the whole parses and fits the schema.
@Suite struct GrammarCompletionTests {
    static func grammar(_ schema: String) throws -> Grammar {
        var g = Grammar()
        g.root = try JSONSchemaCompiler.compile(try Value(jsonText: schema), into: &g, location: "schema")
        return g
    }

    static func ending(_ g: Grammar, after text: String) -> String? {
        var matcher = GrammarMatcher(g)
        guard matcher.accept(Array(text.utf8)) else { return nil }
        return GrammarCompletion(g).completion(of: matcher).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func endingsAreTheShortestThatFit() throws {
        let required = try Self.grammar(#"{"type":"object","properties":{"a":{"type":"string","minLength":2},"b":{"type":"array","minItems":1,"items":{"type":"integer"}},"c":{"type":"boolean"}},"required":["a","b"],"additionalProperties":false}"#)
        #expect(Self.ending(required, after: "") == #"{"a":"aa","b":[0]}"#)
        #expect(Self.ending(required, after: #"{"b": [1, "#) == #"0],"a":"aa"}"#)
        #expect(Self.ending(required, after: #"{"a": "x"#) == #"a","b":[0]}"#)
        #expect(Self.ending(required, after: #"{"a": "xyz", "#) == #""b":[0]}"#)
        #expect(Self.ending(required, after: #"{"b": [2], "a": "xyz", "#) == #""c":true}"#)
        #expect(Self.ending(required, after: #"{"a": "xyz", "b": [3], "c": fa"#) == "lse}")
        let pattern = try Self.grammar(#"{"type":"string","pattern":"^[A-Z]{3}-[0-9]{2}$"}"#)
        #expect(Self.ending(pattern, after: "") == #""AAA-00""#)
        #expect(Self.ending(pattern, after: #""QR"#) == #"A-00""#)
        let freeForm = try Self.grammar(#"{"type":"object"}"#)
        #expect(Self.ending(freeForm, after: #"{"params": {"id": "x", "params": {"a": [1, {"b": "tex"#) == #""}]}}}"#)
        #expect(Self.ending(freeForm, after: #"{"params": {"n": -1.5e"#) == "0}}")
        #expect(Self.ending(freeForm, after: #"{"params": {"#) == "}}")
        #expect(Self.ending(freeForm, after: #"{"params": {"k": 1, "#) == #""":0}}"#)
        #expect(Self.ending(freeForm, after: #"{"esc": "\u00"#) == #"00"}"#)
    }

    /// At every byte of random instances of the property tests' schemas.
    @Test(arguments: 0..<JSONSchemaPropertyTests.shapes.count) func everyPrefixEndsValid(index: Int) throws {
        let shape = JSONSchemaPropertyTests.shapes[index]
        let g = try Self.grammar(shape.schema)
        let completion = GrammarCompletion(g)
        var rng = JSONSchemaPropertyTests.SplitMix(state: UInt64(index) + 100)
        for _ in 0..<30 {
            let bytes = Array(shape.instance(&rng).utf8)
            var matcher = GrammarMatcher(g)
            for i in 0...bytes.count {
                let prefix = String(decoding: bytes[..<i], as: UTF8.self)
                if let ending = completion.completion(of: matcher) {
                    var closed = matcher
                    #expect(closed.accept(ending) && closed.canEnd, "\(prefix) + \(String(decoding: ending, as: UTF8.self))")
                    let text = prefix + String(decoding: ending, as: UTF8.self)
                    #expect((try? Value(jsonText: text)).map(shape.fits) == true, "\(text) does not fit \(shape.schema)")
                } else {
                    // Only in the middle of a character.
                    #expect(i > 0 && bytes[i - 1] >= 0x80, "no ending after \(prefix)")
                }
                if i < bytes.count { _ = matcher.accept([bytes[i]]) }
            }
        }
    }
}
