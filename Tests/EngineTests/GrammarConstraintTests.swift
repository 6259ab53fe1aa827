import Grammar
import Templates
import Testing
@testable import Engine

/// The grammar in the sampler's chain: whatever the logits prefer, the chosen tokens spell what the
/// grammar allows and end only where it may end; a trigger switches it on mid-reply.
@Suite struct GrammarConstraintTests {
    static let pieces: [String] = ["", "<tool_call>", "<tool", "_call>\n{", "\n", "{\"", "n\"", ": ", "42", "}", "}\n</tool_call>",
                                   "Hello", " world", "\"", "x", "</tool_call>", "<tool_call>x"]
    static let eos: Int32 = 0
    static let vocabulary = GrammarVocabulary(pieces: pieces.map { Array($0.utf8) }, endOfGeneration: [eos])

    /// A tool call `<tool_call>\n{"n": INTEGER}\n</tool_call>`.
    static func callGrammar() throws -> Grammar {
        var g = Grammar()
        let arguments = try JSONSchemaCompiler.compile(try Value(jsonText: #"{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"],"additionalProperties":false}"#),
                                                       into: &g, location: "schema")
        let open = g.literal("<tool_call>\n"), close = g.literal("\n</tool_call>")
        g.root = g.add(.sequence([open, arguments, close]))
        return g
    }

    /// Greedy choices with logits that prefer `preference` in order (earlier is likelier).
    static func generate(_ constraint: GrammarConstraint?, preference: [Int32], steps: Int = 12) -> [Int32] {
        var sampler = Sampler(.greedy, grammar: constraint)
        var out: [Int32] = []
        for _ in 0..<steps {
            var logits = [Float](repeating: -10, count: pieces.count)
            for (rank, id) in preference.enumerated() { logits[Int(id)] = Float(100 - rank) }
            let token = sampler.sample(logits, history: out)
            out.append(token)
            if token == eos { break }
        }
        return out
    }

    static func text(_ tokens: [Int32]) -> String { tokens.map { pieces[Int($0)] }.joined() }

    @Test func theGrammarOverridesWhatTheModelPrefers() throws {
        // The model would rather chat and end; the grammar makes it write the call, then end.
        let constraint = try GrammarConstraint(grammar: Self.callGrammar(), vocabulary: Self.vocabulary)
        let tokens = Self.generate(constraint, preference: [Self.eos, 11, 12, 13, 14, 10, 9, 1, 5, 6, 7, 8, 4])
        #expect(tokens.last == Self.eos)
        #expect(Self.text(tokens) == "<tool_call>\n{\"n\": 42}\n</tool_call>")
    }

    @Test func aForcedPrefixIsTakenAsAlreadyWritten() throws {
        let constraint = try GrammarConstraint(grammar: Self.callGrammar(), vocabulary: Self.vocabulary, prefix: Array("<tool_call>\n{\"".utf8))
        #expect(Self.text(Self.generate(constraint, preference: [Self.eos, 11, 10, 6, 7, 8, 9])) == "n\": 42}\n</tool_call>")
        #expect(throws: GrammarConstraintError.self) {
            try GrammarConstraint(grammar: Self.callGrammar(), vocabulary: Self.vocabulary, prefix: Array("Hi".utf8))
        }
    }

    @Test func aTriggerSwitchesTheGrammarOnMidReply() throws {
        var lazy = try GrammarConstraint(grammar: Self.callGrammar(), vocabulary: Self.vocabulary, trigger: "<tool_call>")
        func allowed() -> [Int] {
            var logits = [Float](repeating: 0, count: Self.pieces.count)
            lazy.apply(&logits, history: [])
            return logits.indices.filter { logits[$0].isFinite }
        }
        // Free until the trigger, which comes split over two tokens here.
        for token: Int32 in [11, 12, 2] {
            #expect(allowed().count == Self.pieces.count)
            lazy.accept(token)
        }
        lazy.accept(3)  // "_call>\n{": the call has begun, with its object
        #expect(lazy.isActive)
        // Inside the object: its key's quote (or whitespace), nothing else, and no end yet.
        #expect(allowed() == [4, 13])
    }

    @Test func aTriggerTheGrammarRefusesLeavesTheReplyFree() throws {
        var lazy = try GrammarConstraint(grammar: Self.callGrammar(), vocabulary: Self.vocabulary, trigger: "<tool_call>")
        lazy.accept(16)  // "<tool_call>x": not the call's syntax
        #expect(!lazy.isActive)
        var logits = [Float](repeating: 0, count: Self.pieces.count)
        lazy.apply(&logits, history: [])
        #expect(logits.allSatisfy { $0.isFinite })
    }

    /// A free-form object the model would nest as deep as the grammar lets it and fill with an endless
    /// string: with a budget, the reply is closed in time and parses; without one it runs on.
    @Test func aBudgetClosesTheReplyInTime() throws {
        // Every byte of JSON's syntax is a token of its own, as in real vocabularies.
        let pieces = ["", "{\"", "a\": ", "1", "}", "\"", "x", ",", "{", ":", "0", "[", "]"]
        let vocabulary = GrammarVocabulary(pieces: pieces.map { Array($0.utf8) }, endOfGeneration: [0])
        var g = Grammar()
        g.root = try JSONSchemaCompiler.compile(try Value(jsonText: #"{"type":"object"}"#), into: &g, location: "schema")
        func run(budget: Int?) throws -> (text: String, tokens: Int, closing: Bool) {
            var constraint = try GrammarConstraint(grammar: g, vocabulary: vocabulary)
            constraint.budget = budget
            var sampler = Sampler(.greedy, grammar: constraint)
            var out: [Int32] = []
            for _ in 0..<60 {
                // The model prefers a key, then another object, then endless string text, and ending last of all.
                var logits = [Float](repeating: 0, count: pieces.count)
                logits[2] = 10; logits[1] = 9; logits[6] = 8; logits[5] = 2; logits[3] = 1; logits[0] = -5
                let token = sampler.sample(logits, history: out)
                if token == 0 { break }
                out.append(token)
            }
            return (out.map { pieces[Int($0)] }.joined(), out.count, sampler.grammar?.isClosing == true)
        }
        let unlimited = try run(budget: nil)
        #expect(unlimited.tokens == 60 && !unlimited.closing)
        for budget in [4, 5, 12, 25, 40] {
            let closed = try run(budget: budget)
            #expect(closed.tokens < budget && closed.closing, "budget \(budget): \(closed.text)")
            #expect((try? Value(jsonText: closed.text)) != nil, "budget \(budget): \(closed.text)")
        }
    }
}
