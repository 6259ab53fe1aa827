/// The parsed form of a template.
public indirect enum Node: Sendable {
    case text(String)
    case output(Expression)
    case ifChain([(condition: Expression, body: [Node])], otherwise: [Node])
    case forLoop(targets: [String], iterable: Expression, filter: Expression?, body: [Node], otherwise: [Node])
    case set(target: SetTarget, value: Expression)
    case setBlock(target: SetTarget, body: [Node])
    case macro(name: String, parameters: [String], defaults: [String: Expression], body: [Node])
    case callBlock(call: Expression, body: [Node])
    case filterBlock(filter: Expression, body: [Node])
    case breakLoop
    case continueLoop
}

public enum SetTarget: Sendable {
    case names([String])
    case attribute(object: String, name: String)
}

public indirect enum Expression: Sendable {
    case literal(Value)
    case name(String)
    case list([Expression])
    case tuple([Expression])
    case dict([(Expression, Expression)])
    case attribute(Expression, String)
    case subscriptIndex(Expression, Expression)
    case slice(Expression, start: Expression?, stop: Expression?, step: Expression?)
    case call(Expression, arguments: [Expression], keywords: [(String, Expression)])
    case filter(Expression, name: String, arguments: [Expression], keywords: [(String, Expression)])
    case test(Expression, name: String, arguments: [Expression], negated: Bool)
    case unary(String, Expression)
    case binary(String, Expression, Expression)
    case conditional(Expression, condition: Expression, otherwise: Expression?)
}
