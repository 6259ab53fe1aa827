import Grammar
import Templates
import Testing
import TestSupport

/// The mask from the trie walk (and the open-string shortcut) equals trying every token on its own,
/// at every point of a document; and generating by the mask yields valid JSON.
@Suite struct TokenMaskTests {
    /// A vocabulary of JSON-ish pieces, every printable ASCII byte (as real vocabularies have every
    /// byte), partial UTF-8 characters and random strings.
    static func vocabulary(seed: UInt64) -> (GrammarVocabulary, eos: Int32) {
        var pieces: [[UInt8]] = [[]]  // token 0: a control token (no bytes), the end of generation
        pieces += (0x20...0x7E).map { [UInt8($0)] }
        let fixed = ["{", "}", "[", "]", "\"", ":", ",", " ", "\n", "\n  ", "{\"", "\":", "\": ", "\", \"", "\"}", "},", "\"]", " \"",
                     "name", "city", "Par", "is", "ci", "ty", "days", "true", "fal", "se", "null", "nu", "0", "1", "12", "-", ".", "e", "5.",
                     "\\", "\\n", "\\\"", "\\u00", "e9", "é", "€", "ab", "a b", "x\"", "\",", "\"}\n", "]}", "\":\"", "tr", "ue"]
        pieces += fixed.map { Array($0.utf8) }
        pieces += [[0xC3], [0xA9], [0xE2, 0x82], [0xAC], [0x01], [0xFF]]
        var rng = SplitMix(seed: seed)
        let alphabet = Array("ab \"{}:,[]0123456789.-\\nuel".utf8)
        for _ in 0..<300 {
            let n = Int.random(in: 1...5, using: &rng)
            pieces.append((0..<n).map { _ in alphabet.randomElement(using: &rng)! })
        }
        return (GrammarVocabulary(pieces: pieces, endOfGeneration: [0]), 0)
    }

    static func bruteForce(_ matcher: GrammarMatcher, _ vocabulary: GrammarVocabulary) -> Set<Int32> {
        var allowed: Set<Int32> = []
        for (id, piece) in vocabulary.pieces.enumerated() where !piece.isEmpty {
            var copy = matcher
            if copy.accept(piece) { allowed.insert(Int32(id)) }
        }
        if matcher.canEnd { allowed.formUnion(vocabulary.endOfGeneration) }
        return allowed
    }

    static func members(_ mask: TokenMask) -> Set<Int32> {
        Set((0..<Int32(mask.count)).filter(mask.contains))
    }

    @Test(arguments: [
        (#"{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"},"ok":{"type":"boolean"}},"required":["city"]}"#,
         "{\"city\": \"Par\\n\\u00e9é€is\", \"ok\":true,\n  \"days\": 12}"),
        (#"{"type":"array","items":{"anyOf":[{"type":"number"},{"type":"string","maxLength":3},{"type":"null"}]}}"#,
         #"[1.5e-3, "ab", null,"a b"]"#),
        (#"{"type":"object"}"#, #"{"name": {"x": [true, false, null, -0.5]}, "city": "\"é\""}"#),
        // A length limit: string text of at most the characters left, by its count.
        (#"{"type":"object","properties":{"name":{"type":"string","minLength":2,"maxLength":7}}}"#, "{\"name\": \"Pa é€is\"}"),
    ])
    func walkEqualsTryingEachToken(schema: String, document: String) throws {
        let (vocabulary, _) = Self.vocabulary(seed: 7)
        var g = Grammar()
        g.root = try JSONSchemaCompiler.compile(try Value(jsonText: schema), into: &g, location: "schema")
        var matcher = GrammarMatcher(g)
        var mask = TokenMask(count: vocabulary.count)
        let bytes = Array(document.utf8)
        for i in 0...bytes.count {
            matcher.allowedTokens(vocabulary, into: &mask)
            #expect(Self.members(mask) == Self.bruteForce(matcher, vocabulary), "after \(String(decoding: bytes[..<i], as: UTF8.self))")
            if i < bytes.count {
                let accepted = matcher.accept([bytes[i]])
                #expect(accepted)
            }
        }
        #expect(matcher.canEnd)
    }

    @Test func generatingByTheMaskGivesValidJSON() throws {
        let (vocabulary, eos) = Self.vocabulary(seed: 11)
        let schema = #"{"type":"object","properties":{"name":{"type":"string","maxLength":6},"days":{"type":"array","items":{"type":"integer"},"maxItems":3}},"required":["name","days"],"additionalProperties":false}"#
        var g = Grammar()
        g.root = try JSONSchemaCompiler.compile(try Value(jsonText: schema), into: &g, location: "schema")
        var rng = SplitMix(seed: 3)
        var finished = 0
        for _ in 0..<40 {
            var matcher = GrammarMatcher(g)
            var mask = TokenMask(count: vocabulary.count)
            var text: [UInt8] = []
            for _ in 0..<200 {
                matcher.allowedTokens(vocabulary, into: &mask)
                let allowed = Array(Self.members(mask)).sorted()
                try #require(!allowed.isEmpty, "a dead end after \(String(decoding: text, as: UTF8.self))")
                // Prefer ending once possible, so walks finish.
                let token = allowed.contains(eos) && Bool.random(using: &rng) ? eos : allowed.randomElement(using: &rng)!
                if token == eos { break }
                text += vocabulary.pieces[Int(token)]
                let accepted = matcher.accept(vocabulary.pieces[Int(token)])
                #expect(accepted)
            }
            guard matcher.canEnd else { continue }
            finished += 1
            let value = try Value(jsonText: String(decoding: text, as: UTF8.self))
            guard case .object(let o) = value, case .string(let name)? = o["name"], case .array(let days)? = o["days"] else {
                Issue.record("not the schema's shape: \(String(decoding: text, as: UTF8.self))")
                continue
            }
            #expect(name.count <= 6 && days.count <= 3 && o.keys.count == 2)
        }
        #expect(finished >= 10)
    }
}
