import Foundation

/// A compiled chat template. Rendering is sandboxed: templates can only read the data they are
/// given, and loops, recursion and output size are bounded.
public struct Template: Sendable {
    public struct Limits: Sendable {
        public var loopIterations = 1_000_000
        public var callDepth = 64
        public var outputBytes = 8 << 20
        public init() {}
    }

    let nodes: [Node]

    public init(_ source: String) throws {
        // Like Jinja (keep_trailing_newline=False), one newline at the very end is not output.
        var source = source
        if source.hasSuffix("\n") { source.removeLast() }
        var parser = try Parser(source)
        nodes = try parser.parseTemplate()
    }

    public func render(_ context: [String: Value], limits: Limits = Limits()) throws -> String {
        let interpreter = Interpreter(globals: context, limits: limits)
        _ = try interpreter.run(nodes)
        return interpreter.output
    }
}
