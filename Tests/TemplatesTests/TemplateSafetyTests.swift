import Foundation
import Testing
@testable import Templates

@Suite struct TemplateSafetyTests {
    func render(_ source: String, _ context: [String: Value] = [:], limits: Template.Limits = Template.Limits()) throws -> String {
        try Template(source).render(context, limits: limits)
    }

    @Test func syntaxErrorsAreReported() {
        #expect(throws: TemplateError.self) { try Template("{% if x %}no end") }
        #expect(throws: TemplateError.self) { try Template("{{ 'unterminated }}") }
        #expect(throws: TemplateError.self) { try Template("{% frobnicate %}") }
        #expect(throws: TemplateError.self) { try Template("{{ a + }}") }
    }

    @Test func raiseExceptionCarriesTheTemplatesMessage() {
        #expect(throws: TemplateError.raised("roles must alternate")) { try render("{{ raise_exception('roles must alternate') }}") }
    }

    @Test func loopsAndRecursionAndOutputAreBounded() {
        var limits = Template.Limits()
        limits.loopIterations = 1000
        #expect(throws: TemplateError.self) { try render("{% for i in range(10) %}{% for j in range(1000) %}x{% endfor %}{% endfor %}", limits: limits) }
        #expect(throws: TemplateError.self) { try render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}") }
        limits = Template.Limits()
        limits.outputBytes = 100
        #expect(throws: TemplateError.self) { try render("{% for i in range(1000) %}abc{% endfor %}", limits: limits) }
    }

    /// Each level is a recursion when parsing and rendering: nested past the bound, a template is a
    /// syntax error instead of a stack overflow (FuzzTemplates overflowed the stack on brackets).
    @Test func deepNestingIsASyntaxErrorNotACrash() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/fuzz-crashes/deep-subscripts.jinja")
        let found = String(decoding: try Data(contentsOf: fixture), as: UTF8.self)
        #expect(throws: TemplateError.self) { try Template(found) }
        let deep = 5000
        for source in ["{{ " + String(repeating: "[", count: deep) + " }}", "{{ " + String(repeating: "(", count: deep) + "1 }}",
                       "{{ " + String(repeating: "-", count: deep) + "1 }}", "{{ " + String(repeating: "not ", count: deep) + "x }}",
                       "{{ 1" + String(repeating: " + 1", count: deep) + " }}", "{{ x" + String(repeating: ".a", count: deep) + " }}",
                       "{{ x" + String(repeating: " | lower", count: deep) + " }}", "{{ x" + String(repeating: "[0]", count: deep) + " }}",
                       String(repeating: "{% if x %}", count: deep) + "y" + String(repeating: "{% endif %}", count: deep)] {
            #expect(throws: TemplateError.self, "\(source.prefix(24))…") { try Template(source) }
        }
        // Nesting as deep as real templates go, and well past it, still renders.
        let nested = String(repeating: "[", count: 40) + "7" + String(repeating: "]", count: 40)
        #expect(try render("{{ " + nested + " }}") == nested)
        #expect(try render("{{ 1" + String(repeating: " + 1", count: 120) + " }}") == "121")
        #expect(try render(String(repeating: "{% if true %}", count: 60) + "y" + String(repeating: "{% endif %}", count: 60)) == "y")
    }

    @Test func undefinedAttributesOfUndefinedAreErrorsButMissingKeysAreNot() throws {
        #expect(try render("{{ m.missing is defined }}", ["m": .object(Value.Object([("a", .int(1))]))]) == "False")
        #expect(throws: TemplateError.self) { try render("{{ nothing.field }}") }
    }

    @Test func namespacesAreTheOnlyMutableObjects() throws {
        #expect(try render("{% set ns = namespace(n=1) %}{% for i in [1,2] %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}") == "4")
        #expect(throws: TemplateError.self) { try render("{% set d = {} %}{% set d.x = 1 %}") }
    }
}
