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

    @Test func undefinedAttributesOfUndefinedAreErrorsButMissingKeysAreNot() throws {
        #expect(try render("{{ m.missing is defined }}", ["m": .object(Value.Object([("a", .int(1))]))]) == "False")
        #expect(throws: TemplateError.self) { try render("{{ nothing.field }}") }
    }

    @Test func namespacesAreTheOnlyMutableObjects() throws {
        #expect(try render("{% set ns = namespace(n=1) %}{% for i in [1,2] %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}") == "4")
        #expect(throws: TemplateError.self) { try render("{% set d = {} %}{% set d.x = 1 %}") }
    }
}
