import FuzzEntry
import Grammar
import Templates

/// A JSON Schema (from `response_format` or a tool's `parameters`) compiled into a grammar, then a
/// matcher walked over sample JSON texts byte by byte and asked for the shortest completion.
/// Schema errors are expected; crashes and hangs are not.
func fuzzSchemas(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    guard let schema = try? Value(jsonText: text) else { return 0 }
    var grammar = Grammar()
    guard let root = try? JSONSchemaCompiler.compile(schema, into: &grammar, location: "schema") else { return 0 }
    grammar.root = root
    let completion = GrammarCompletion(grammar)
    for sample in samples {
        var matcher = GrammarMatcher(grammar)
        _ = completion.completion(of: matcher)
        for byte in sample.utf8 {
            guard matcher.accept(CollectionOfOne(byte)) else { break }
        }
        _ = completion.completion(of: matcher)
    }
    return 0
}

private let samples = [#"{"city": "Paris", "days": 3, "tags": ["a", "b"], "ok": true}"#, #"[1, -2.5e3, null, "x"]"#, #""2024-01-31""#, "42", "{}"]

@main struct Entry {
    static func main() { runFuzzer { data, size in data.map { fuzzSchemas(UnsafeRawPointer($0), size) } ?? 0 } }
}
