import Grammar
import Templates
import Testing

/// Schemas compiled to grammars accept exactly the JSON texts the schema allows (within the
/// grammar's whitespace and size bounds), byte by byte.
@Suite struct JSONSchemaGrammarTests {
    static func grammar(_ schemaJSON: String) throws -> Grammar {
        var g = Grammar()
        g.root = try JSONSchemaCompiler.compile(try Value(jsonText: schemaJSON), into: &g, location: "schema")
        return g
    }

    static func matches(_ g: Grammar, _ text: String) -> Bool {
        var m = GrammarMatcher(g)
        return m.accept(Array(text.utf8)) && m.canEnd
    }

    func check(_ schema: String, accepts: [String], rejects: [String]) throws {
        let g = try Self.grammar(schema)
        for text in accepts { #expect(Self.matches(g, text), "\(schema) should accept \(text)") }
        for text in rejects { #expect(!Self.matches(g, text), "\(schema) should reject \(text)") }
    }

    @Test func objectsKeepToTheirPropertiesAndRequireTheRequired() throws {
        let schema = #"{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"]}"#
        try check(schema, accepts: [#"{"city":"Paris"}"#, #"{"city": "Paris", "days": 3}"#, #"{ "days":3 , "city":"Oslo" }"#,
                                    "{\n  \"city\": \"Rome\"\n}"],
                  rejects: [#"{}"#, #"{"days":3}"#, #"{"city":"Paris","city":"Rome"}"#, #"{"city":"Paris","other":1}"#,
                            #"{"city":"Paris",}"#, #"{"city":3}"#, #"{"city":"Paris","days":1.5}"#, #"{"cit":"x"}"#,
                            #"{"city":"Paris"} "#, #"{"city":"Paris"}x"#, #"["city"]"#])
        // Whitespace is bounded, so a model cannot pad forever.
        #expect(!Self.matches(try Self.grammar(schema), "{" + String(repeating: " ", count: 40) + #""city":"x"}"#))
    }

    @Test func additionalPropertiesFollowTheirSchema() throws {
        try check(#"{"type":"object","properties":{"a":{"type":"boolean"}},"additionalProperties":{"type":"number"}}"#,
                  accepts: [#"{"a":true,"b":2}"#, #"{"z":-1.5e3}"#, #"{}"#], rejects: [#"{"b":"x"}"#, #"{"a":1}"#])
        try check(#"{"type":"object"}"#, accepts: [#"{"any":[1,{"x":null}],"more":"y"}"#, "{}"], rejects: ["[]", "1"])
    }

    @Test func stringsTakeEscapesAndWholeCharactersWithinTheirLength() throws {
        try check(#"{"type":"string","minLength":2,"maxLength":4}"#,
                  accepts: [#""ab""#, #""a\nb""#, #""é€😀x""#, #""\u00e9z""#, #""\"\\""#],
                  rejects: [#""a""#, #""abcde""#, "\"a\u{01}b\"", #""a\qb""#, #""\u00g0""#, "\"ab"])
        var m = GrammarMatcher(try Self.grammar(#"{"type":"string"}"#))
        let truncated = m.accept([0x22, 0xC3, 0x41]), invalid = m.accept([0x22, 0xFF])
        #expect(!truncated && !invalid)  // a lead byte must be followed by a continuation byte; 0xFF is never UTF-8
    }

    @Test func numbersFollowJSONSyntax() throws {
        try check(#"{"type":"number"}"#, accepts: ["0", "-0", "12", "-3.25", "1e9", "2.5E-3", "0.5"],
                  rejects: ["01", "-", "1.", ".5", "1e", "+1", "1.2.3", "NaN", String(repeating: "9", count: 30)])
        try check(#"{"type":"integer"}"#, accepts: ["7", "-120"], rejects: ["1.0", "1e3"])
    }

    @Test func arraysCountTheirItems() throws {
        try check(#"{"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3}"#,
                  accepts: ["[1]", "[1, 2,3]", "[ 4 ]"], rejects: ["[]", "[1,2,3,4]", "[1,]", "[\"a\"]", "[1 2]"])
        try check(#"{"type":"array"}"#, accepts: ["[]", #"[1,"a",[null],{"k":true}]"#], rejects: ["[", "{}"])
    }

    @Test func enumsConstantsAlternativesAndNullable() throws {
        try check(#"{"enum":["red","green",3,null]}"#, accepts: [#""red""#, #""green""#, "3", "null"], rejects: [#""blue""#, #""re""#, "4"])
        try check(#"{"const":{"a":1}}"#, accepts: [#"{"a":1}"#], rejects: [#"{"a":2}"#])
        try check(#"{"anyOf":[{"type":"string"},{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]}]}"#,
                  accepts: [#""s""#, #"{"x":1}"#], rejects: ["1", #"{"y":1}"#])
        try check(#"{"type":["integer","null"]}"#, accepts: ["5", "null"], rejects: [#""5""#])
        try check(#"{"type":"string","nullable":true}"#, accepts: [#""a""#, "null"], rejects: ["1"])
        try check(#"{"type":"boolean"}"#, accepts: ["true", "false"], rejects: ["True", "1"])
    }

    @Test func referencesResolveIncludingRecursion() throws {
        let tree = #"""
        {"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{"name":{"type":"string"},
         "children":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["name"],"additionalProperties":false}}}
        """#
        try check(tree, accepts: [#"{"name":"a"}"#, #"{"name":"a","children":[{"name":"b","children":[{"name":"c"}]}]}"#],
                  rejects: [#"{"name":"a","children":[{}]}"#, #"{"children":[]}"#])
        try check(##"{"definitions":{"n":{"type":"integer"}},"type":"array","items":{"$ref":"#/definitions/n"}}"##,
                  accepts: ["[1,2]"], rejects: [#"["x"]"#])
    }

    @Test func patternsHoldTheStringsValue() throws {
        try check(#"{"type":"string","pattern":"^[A-Z]{2}-\\d{3,4}$"}"#, accepts: [#""AB-123""#, #""XY-9876""#],
                  rejects: [#""ab-123""#, #""AB-12""#, #""AB-12345""#, #""xAB-123""#, #""AB-123 ""#])
        // Unanchored: the pattern may match anywhere in the value.
        try check(#"{"type":"string","pattern":"(cat|dog)s?"}"#, accepts: [#""cats""#, #""a dog here""#, #""hot dogs é""#], rejects: [#""cow""#, #""""#])
        try check(#"{"type":"string","pattern":"^[^0-9\\s]+\\.?$","maxLength":4}"#, accepts: [#""abc.""#, #""é""#], rejects: [#""a b""#, #""a1""#, #""abcde""#])
        try check(#"{"type":"string","pattern":"^a.c$"}"#, accepts: [#""abc""#, #""a€c""#], rejects: [#""ac""#, #""a\"c""#])
        for bad in ["a(?<n>b)", "(a", "a{2,1}", "a{99}", #"\1"#, "[z-a]", "é", "a^b", "*a", "(?!x)"] {
            #expect(throws: SchemaError.self, "\(bad)") { _ = try PatternAutomaton(pattern: bad) }
        }
        #expect(throws: SchemaError.self) { _ = try PatternAutomaton(pattern: String(repeating: "(a|b.)", count: 12)) }  // too many states
    }

    @Test func keysNeedingEscapesMatchTheirJSONForm() throws {
        try check(#"{"type":"object","properties":{"say \"hi\"":{"type":"integer"}},"required":["say \"hi\""]}"#,
                  accepts: [#"{"say \"hi\"":1}"#], rejects: [#"{"say "hi"":1}"#])
    }

    @Test func keywordsOutsideTheSubsetAreRefusedByName() throws {
        for (schema, keyword) in [(#"{"type":"integer","minimum":1}"#, "minimum"), (#"{"type":"string","pattern":"(?=a)b"}"#, "pattern"), (#"{"type":"number","multipleOf":2}"#, "multipleOf"),
                                  (#"{"allOf":[{"type":"string"}]}"#, "allOf"), (#"{"type":"array","uniqueItems":true}"#, "uniqueItems")] {
            #expect(throws: SchemaError.self) { _ = try Self.grammar(schema) }
            do { _ = try Self.grammar(schema) } catch let error as SchemaError { #expect(error.message.contains("'\(keyword)'")) }
        }
        for bad in [#"{"type":"strin"}"#, ##"{"$ref":"#/$defs/missing"}"##, #"{"$ref":"http://example.com/s.json"}"#, #"{"enum":[]}"#,
                    #"{"type":"array","maxItems":-1}"#, #"{"type":"array","maxItems":1.5}"#, #"{"type":"object","properties":{"a":{}},"required":["b"]}"#,
                    "false", "3"] {
            #expect(throws: SchemaError.self, "\(bad)") { _ = try Self.grammar(bad) }
        }
        // Annotations are fine.
        try check(#"{"type":"string","description":"d","title":"t","format":"date","default":"x","examples":["y"]}"#, accepts: [#""z""#], rejects: [])
    }
}
