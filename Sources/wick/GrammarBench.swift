import ArgumentParser
import Engine
import Foundation
import GGUF
import Grammar
import Templates
import Tokenizers

/// How long constrained decoding's token mask takes on a model's vocabulary: the vocabulary is
/// prepared once, then a JSON document that fits the schema is followed token by token (as the
/// model's tokenizer splits it) and the mask is computed before each token.
struct GrammarBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-grammar",
                                                    abstract: "Measure the time to mask a vocabulary with a JSON schema's grammar.")

    @Option(help: "Path to a GGUF file (its vocabulary is used).") var model: String
    @Option(help: "A JSON schema file (default: any JSON object).") var schema: String?
    @Option(help: "A JSON document that fits the schema, followed token by token.") var document: String
    @Option(name: .short, help: "Repetitions.") var r = 3

    func run() throws {
        let file = try GGUFFile(path: model)
        let tokenizer = try Tokenizer(gguf: file)
        var grammar = Grammar()
        if let schema {
            grammar.root = try JSONSchemaCompiler.compile(try Value(jsonText: String(contentsOfFile: schema, encoding: .utf8)), into: &grammar, location: "schema")
        } else {
            let any = grammar.anyValue()
            grammar.root = grammar.add(.object(properties: [], required: 0, additional: any))
        }
        let text = try String(contentsOfFile: document, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let tokens = tokenizer.encode(text)
        let start = Date()
        let vocabulary = GrammarVocabulary(tokenizer: tokenizer)
        let prepare = Date().timeIntervalSince(start)
        var times: [Double] = []
        var mask = TokenMask(count: vocabulary.count)
        var allowed = 0
        for _ in 0..<max(r, 1) {
            var matcher = GrammarMatcher(grammar)
            for token in tokens {
                let t0 = Date()
                matcher.allowedTokens(vocabulary, into: &mask)
                times.append(Date().timeIntervalSince(t0))
                guard mask.contains(token), matcher.accept(vocabulary.pieces[Int(token)]) else {
                    throw ValidationError("the document does not fit the schema at token \(token) (\(String(decoding: vocabulary.pieces[Int(token)], as: UTF8.self)))")
                }
                allowed += (0..<Int32(vocabulary.count)).reduce(0) { $0 + (mask.contains($1) ? 1 : 0) }
            }
            guard matcher.canEnd else { throw ValidationError("the document ends before the schema allows") }
        }
        times.sort()
        func ms(_ t: Double) -> String { String(format: "%.3f", t * 1000) }
        let mean = times.reduce(0, +) / Double(times.count)
        print("vocabulary \(vocabulary.count) tokens, prepared in \(ms(prepare)) ms; \(tokens.count) tokens followed × \(max(r, 1))")
        print("mask per token: mean \(ms(mean)) ms, p50 \(ms(times[times.count / 2])) ms, p99 \(ms(times[min(times.count - 1, times.count * 99 / 100)])) ms, max \(ms(times[times.count - 1])) ms; tokens allowed on average \(allowed / times.count)")
    }
}
