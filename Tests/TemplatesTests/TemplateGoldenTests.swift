import Foundation
import Testing
@testable import Templates

/// Chat templates of real models rendered for several conversations, compared with the reference
/// Python jinja2 (scripts/make-template-fixtures).
@Suite struct TemplateGoldenTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func cases() throws -> [Value.Object] {
        let text = try String(contentsOf: fixtures.appendingPathComponent("template-golden.json"), encoding: .utf8)
        guard case .array(let items) = try Value(jsonText: text) else { return [] }
        return items.compactMap { if case .object(let o) = $0 { return o }; return nil }
    }

    /// `strftime_now` on the day the fixtures were rendered for (noon UTC, 25 Nov 2026).
    static let strftimeOnFixtureDay = Builtins.fn("strftime_now") { args, _ in
        .string(Builtins.strftime(args.first.map(Builtins.string) ?? "%Y-%m-%d", Date(timeIntervalSince1970: 1_795_608_000)))
    }

    @Test func everyTemplateMatchesJinja2() throws {
        let cases = try Self.cases()
        #expect(cases.count >= 60)
        var failures = 0
        var templates: [String: Template] = [:]
        for c in cases {
            guard case .string(let name)? = c["template"], case .object(let context)? = c["context"],
                  case .string(let conversation)? = c["conversation"] else {
                Issue.record("malformed fixture")
                continue
            }
            if templates[name] == nil {
                let source = try String(contentsOf: Self.fixtures.appendingPathComponent("templates/\(name).jinja"), encoding: .utf8)
                templates[name] = try Template(source)
            }
            var data: [String: Value] = [:]
            for (k, v) in context.pairs { data[k] = v }
            data["strftime_now"] = Self.strftimeOnFixtureDay
            let label = "\(name) / \(conversation) / add_generation_prompt=\(data["add_generation_prompt"]?.isTruthy ?? false)"
            do {
                let output = try templates[name]!.render(data)
                if case .string(let expected)? = c["output"] {
                    if output != expected {
                        failures += 1
                        Issue.record("\(label): rendered differently\n--- wick\n\(output)\n--- jinja2\n\(expected)")
                    }
                } else {
                    failures += 1
                    Issue.record("\(label): rendered, but jinja2 raised \((c["error"] ?? c["failure"]).map { Builtins.string($0) } ?? "?")")
                }
            } catch let error as TemplateError {
                if case .string(let expected)? = c["error"], case .raised(let message) = error {
                    #expect(message == expected, "\(label)")
                } else if c["failure"] != nil, error.isEvaluationFailure {
                    // jinja2 failed evaluating too (say, text + object), not through raise_exception.
                } else {
                    failures += 1
                    Issue.record("\(label): \(error)")
                }
            }
        }
        #expect(failures == 0)
    }
}
