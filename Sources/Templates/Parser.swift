/// Builds the node tree from lexer pieces: statements with their bodies, and expressions with
/// Jinja's precedence (conditional < or < and < not < comparison/in/is < ~ < +,- < *,/,//,% < unary
/// < ** < postfix: attribute, subscript, call, filter).
struct Parser {
    private var pieces: [Lexer.Piece]
    private var index = 0
    /// Statements inside statements, bounded: a template is untrusted input, and each level is a
    /// recursion here and when rendering.
    private var nesting = 0
    static let maxNesting = 100

    init(_ source: String) throws {
        pieces = try Lexer.pieces(source)
    }

    mutating func parseTemplate() throws -> [Node] {
        let (body, end) = try parseBody(until: [])
        if let end { throw TemplateError.syntax("unexpected '\(end)'") }
        return body
    }

    /// Nodes up to one of the `until` statements (returned with its tokens left for the caller).
    private mutating func parseBody(until ends: Set<String>) throws -> ([Node], String?) {
        var nodes: [Node] = []
        while index < pieces.count {
            switch pieces[index] {
            case .text(let t):
                nodes.append(.text(t))
                index += 1
            case .expression(let tokens):
                var p = ExpressionParser(tokens)
                nodes.append(.output(try p.parseComplete()))
                index += 1
            case .statement(let tokens):
                guard case .name(let keyword)? = tokens.first else { throw TemplateError.syntax("empty statement") }
                if ends.contains(keyword) { return (nodes, keyword) }
                index += 1
                nodes.append(try parseStatement(keyword, Array(tokens.dropFirst())))
            }
        }
        return (nodes, nil)
    }

    private mutating func expectEnd(_ name: String, from ends: Set<String>) throws -> (String, [Lexer.Token]) {
        guard index < pieces.count, case .statement(let tokens) = pieces[index], case .name(let k)? = tokens.first, ends.contains(k) else {
            throw TemplateError.syntax("missing '\(name)'")
        }
        index += 1
        return (k, Array(tokens.dropFirst()))
    }

    private mutating func parseStatement(_ keyword: String, _ tokens: [Lexer.Token]) throws -> Node {
        nesting += 1
        defer { nesting -= 1 }
        guard nesting <= Self.maxNesting else { throw TemplateError.syntax("statements nested more than \(Self.maxNesting) deep") }
        var p = ExpressionParser(tokens)
        switch keyword {
        case "if":
            var branches: [(Expression, [Node])] = []
            var condition = try p.parseComplete()
            while true {
                let (body, end) = try parseBody(until: ["elif", "else", "endif"])
                branches.append((condition, body))
                let (k, rest) = try expectEnd("endif", from: [end ?? "endif"])
                if k == "elif" {
                    var q = ExpressionParser(rest)
                    condition = try q.parseComplete()
                } else if k == "else" {
                    let (otherwise, _) = try parseBody(until: ["endif"])
                    _ = try expectEnd("endif", from: ["endif"])
                    return .ifChain(branches, otherwise: otherwise)
                } else {
                    return .ifChain(branches, otherwise: [])
                }
            }
        case "for":
            var targets: [String] = []
            repeat {
                targets.append(try p.expectName())
            } while p.accept(",")
            guard p.acceptName("in") else { throw TemplateError.syntax("expected 'in' in for loop") }
            let iterable = try p.parseConditional(allowBareIf: false)
            let filter = p.acceptName("if") ? try p.parseOr() : nil
            _ = p.acceptName("recursive")
            try p.expectEnd()
            let (body, end) = try parseBody(until: ["else", "endfor"])
            var otherwise: [Node] = []
            if end == "else" {
                _ = try expectEnd("else", from: ["else"])
                (otherwise, _) = try parseBody(until: ["endfor"])
            }
            _ = try expectEnd("endfor", from: ["endfor"])
            return .forLoop(targets: targets, iterable: iterable, filter: filter, body: body, otherwise: otherwise)
        case "set":
            let first = try p.expectName()
            var target = SetTarget.names([first])
            if p.accept(".") {
                target = .attribute(object: first, name: try p.expectName())
            } else if p.peekOp(",") {
                var names = [first]
                while p.accept(",") { names.append(try p.expectName()) }
                target = .names(names)
            }
            if p.accept("=") {
                let value = try p.parseTupleOrExpression()
                try p.expectEnd()
                return .set(target: target, value: value)
            }
            try p.expectEnd()
            let (body, _) = try parseBody(until: ["endset"])
            _ = try expectEnd("endset", from: ["endset"])
            return .setBlock(target: target, body: body)
        case "macro":
            let name = try p.expectName()
            var parameters: [String] = []
            var defaults: [String: Expression] = [:]
            try p.expectOp("(")
            if !p.accept(")") {
                repeat {
                    let param = try p.expectName()
                    parameters.append(param)
                    if p.accept("=") { defaults[param] = try p.parseConditional(allowBareIf: true) }
                } while p.accept(",")
                try p.expectOp(")")
            }
            try p.expectEnd()
            let (body, _) = try parseBody(until: ["endmacro"])
            _ = try expectEnd("endmacro", from: ["endmacro"])
            return .macro(name: name, parameters: parameters, defaults: defaults, body: body)
        case "call":
            let call = try p.parseComplete()
            let (body, _) = try parseBody(until: ["endcall"])
            _ = try expectEnd("endcall", from: ["endcall"])
            return .callBlock(call: call, body: body)
        case "filter":
            let filter = try p.parseFilterChain(on: .name(Interpreter.blockContent), leadingPipe: false)
            try p.expectEnd()
            let (body, _) = try parseBody(until: ["endfilter"])
            _ = try expectEnd("endfilter", from: ["endfilter"])
            return .filterBlock(filter: filter, body: body)
        case "break": return .breakLoop
        case "continue": return .continueLoop
        case "generation", "endgeneration": return .text("")  // markers some templates use for training masks
        default:
            throw TemplateError.syntax("unknown statement '\(keyword)'")
        }
    }
}

struct ExpressionParser {
    private let tokens: [Lexer.Token]
    private var i = 0
    /// How deep the tree being built is, bounded: brackets, signs and `not`s recurse here and when
    /// rendering, and each operator of a chain (`a + b + …`, `x.y.z`, `| f | g`) adds a level.
    private var depth = 0
    static let maxDepth = 200

    private mutating func deeper() throws {
        depth += 1
        guard depth <= Self.maxDepth else { throw TemplateError.syntax("expression nested more than \(Self.maxDepth) levels deep") }
    }

    init(_ tokens: [Lexer.Token]) { self.tokens = tokens }

    mutating func parseComplete() throws -> Expression {
        let e = try parseTupleOrExpression()
        try expectEnd()
        return e
    }

    func expectEnd() throws {
        if i < tokens.count { throw TemplateError.syntax("unexpected \(tokens[i]) in expression") }
    }

    func peekOp(_ op: String) -> Bool { i < tokens.count && tokens[i] == .op(op) }

    mutating func accept(_ op: String) -> Bool {
        if peekOp(op) { i += 1; return true }
        return false
    }

    mutating func acceptName(_ name: String) -> Bool {
        if i < tokens.count, tokens[i] == .name(name) { i += 1; return true }
        return false
    }

    mutating func expectOp(_ op: String) throws {
        guard accept(op) else { throw TemplateError.syntax("expected '\(op)'") }
    }

    mutating func expectName() throws -> String {
        guard i < tokens.count, case .name(let n) = tokens[i] else { throw TemplateError.syntax("expected a name") }
        i += 1
        return n
    }

    /// `a, b` without brackets is a tuple (in `set` and output).
    mutating func parseTupleOrExpression() throws -> Expression {
        let first = try parseConditional(allowBareIf: true)
        guard peekOp(",") else { return first }
        var items = [first]
        while accept(",") {
            if i >= tokens.count { break }
            items.append(try parseConditional(allowBareIf: true))
        }
        return .tuple(items)
    }

    mutating func parseConditional(allowBareIf: Bool) throws -> Expression {
        let saved = depth
        defer { depth = saved }
        try deeper()
        let value = try parseOr()
        guard allowBareIf, acceptName("if") else { return value }
        let condition = try parseOr()
        let otherwise = acceptName("else") ? try parseConditional(allowBareIf: true) : nil
        return .conditional(value, condition: condition, otherwise: otherwise)
    }

    mutating func parseOr() throws -> Expression {
        let saved = depth
        defer { depth = saved }
        var left = try parseAnd()
        while acceptName("or") { try deeper(); left = .binary("or", left, try parseAnd()) }
        return left
    }

    mutating func parseAnd() throws -> Expression {
        let saved = depth
        defer { depth = saved }
        var left = try parseNot()
        while acceptName("and") { try deeper(); left = .binary("and", left, try parseNot()) }
        return left
    }

    mutating func parseNot() throws -> Expression {
        let saved = depth
        defer { depth = saved }
        try deeper()
        if acceptName("not") { return .unary("not", try parseNot()) }
        return try parseComparison()
    }

    mutating func parseComparison() throws -> Expression {
        let saved = depth
        defer { depth = saved }
        var left = try parseConcat()
        while true {
            try deeper()
            if let op = ["==", "!=", "<", ">", "<=", ">="].first(where: { peekOp($0) }) {
                i += 1
                left = .binary(op, left, try parseConcat())
            } else if acceptName("in") {
                left = .binary("in", left, try parseConcat())
            } else if i + 1 < tokens.count, tokens[i] == .name("not"), tokens[i + 1] == .name("in") {
                i += 2
                left = .unary("not", .binary("in", left, try parseConcat()))
            } else {
                return left
            }
        }
    }

    private func isTestTerminator(_ t: Lexer.Token) -> Bool {
        switch t {
        case .name(let n): return ["and", "or", "else", "if", "not", "in", "is"].contains(n)
        case .op(let o): return [")", "]", "}", ",", ":", "==", "!=", "<", ">", "<=", ">=", "|", "~", "+", "-", "*", "/", "%"].contains(o)
        default: return false
        }
    }

    mutating func parseConcat() throws -> Expression {
        let saved = depth
        defer { depth = saved }
        var left = try parseAdditive()
        while accept("~") { try deeper(); left = .binary("~", left, try parseAdditive()) }
        return left
    }

    mutating func parseAdditive() throws -> Expression {
        let saved = depth
        defer { depth = saved }
        var left = try parseMultiplicative()
        while true {
            try deeper()
            if accept("+") { left = .binary("+", left, try parseMultiplicative()) }
            else if accept("-") { left = .binary("-", left, try parseMultiplicative()) }
            else { return left }
        }
    }

    mutating func parseMultiplicative() throws -> Expression {
        let saved = depth
        defer { depth = saved }
        var left = try parsePower()
        while true {
            try deeper()
            if let op = ["*", "//", "/", "%"].first(where: { peekOp($0) }) {
                i += 1
                left = .binary(op, left, try parsePower())
            } else {
                return left
            }
        }
    }

    mutating func parsePower() throws -> Expression {
        let saved = depth
        defer { depth = saved }
        var left = try parseUnary()
        while accept("**") { try deeper(); left = .binary("**", left, try parseUnary()) }
        return left
    }

    /// As Jinja: a sign applies before filters and tests (`-3 | abs` is 3), postfix access binds tightest.
    mutating func parseUnary(withFilters: Bool = true) throws -> Expression {
        let saved = depth
        defer { depth = saved }
        try deeper()
        var node: Expression
        if accept("-") {
            node = .unary("-", try parseUnary(withFilters: false))
        } else if accept("+") {
            node = try parseUnary(withFilters: false)
        } else {
            node = try parsePostfix(try parsePrimary())
        }
        return withFilters ? try parseFiltersAndTests(node) : node
    }

    /// `| filter(...)` and `is [not] test(...)`, in any order.
    mutating func parseFiltersAndTests(_ base: Expression) throws -> Expression {
        let saved = depth
        defer { depth = saved }
        var e = base
        while true {
            try deeper()
            if peekOp("|") {
                e = try parseFilterChain(on: e)
            } else if acceptName("is") {
                let negated = acceptName("not")
                let name = try expectName()
                var args: [Expression] = []
                if accept("(") {
                    if !accept(")") {
                        repeat { args.append(try parseConditional(allowBareIf: true)) } while accept(",")
                        try expectOp(")")
                    }
                } else if i < tokens.count, !isTestTerminator(tokens[i]) {
                    args.append(try parsePostfix(try parsePrimary()))
                }
                e = .test(e, name: name, arguments: args, negated: negated)
            } else {
                return e
            }
        }
    }

    mutating func parsePrimary() throws -> Expression {
        guard i < tokens.count else { throw TemplateError.syntax("unexpected end of expression") }
        let t = tokens[i]
        i += 1
        switch t {
        case .string(var s):
            // Adjacent string literals concatenate, as in Python.
            while i < tokens.count, case .string(let more) = tokens[i] { s += more; i += 1 }
            return .literal(.string(s))
        case .integer(let n): return .literal(.int(n))
        case .float(let d): return .literal(.double(d))
        case .name(let n):
            switch n {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(n)
            }
        case .op("("):
            if accept(")") { return .tuple([]) }
            let e = try parseTupleOrExpression()
            try expectOp(")")
            return e
        case .op("["):
            var items: [Expression] = []
            if !accept("]") {
                repeat {
                    if peekOp("]") { break }
                    items.append(try parseConditional(allowBareIf: true))
                } while accept(",")
                try expectOp("]")
            }
            return .list(items)
        case .op("{"):
            var pairs: [(Expression, Expression)] = []
            if !accept("}") {
                repeat {
                    if peekOp("}") { break }
                    let k = try parseConditional(allowBareIf: true)
                    try expectOp(":")
                    pairs.append((k, try parseConditional(allowBareIf: true)))
                } while accept(",")
                try expectOp("}")
            }
            return .dict(pairs)
        default:
            throw TemplateError.syntax("unexpected \(t)")
        }
    }

    mutating func parseArguments() throws -> ([Expression], [(String, Expression)]) {
        var args: [Expression] = []
        var keywords: [(String, Expression)] = []
        if accept(")") { return (args, keywords) }
        repeat {
            if peekOp(")") { break }
            if i + 1 < tokens.count, case .name(let n) = tokens[i], tokens[i + 1] == .op("=") {
                i += 2
                keywords.append((n, try parseConditional(allowBareIf: true)))
            } else {
                args.append(try parseConditional(allowBareIf: true))
            }
        } while accept(",")
        try expectOp(")")
        return (args, keywords)
    }

    mutating func parsePostfix(_ base: Expression) throws -> Expression {
        let saved = depth
        defer { depth = saved }
        var e = base
        while true {
            try deeper()
            if accept(".") {
                e = .attribute(e, try expectName())
            } else if accept("[") {
                var parts: [Expression?] = [nil]
                var sawColon = false
                while !accept("]") {
                    if accept(":") {
                        sawColon = true
                        parts.append(nil)
                    } else {
                        parts[parts.count - 1] = try parseConditional(allowBareIf: true)
                    }
                }
                if sawColon {
                    e = .slice(e, start: parts[0], stop: parts.count > 1 ? parts[1] : nil, step: parts.count > 2 ? parts[2] : nil)
                } else {
                    guard let index = parts[0] else { throw TemplateError.syntax("empty subscript") }
                    e = .subscriptIndex(e, index)
                }
            } else if accept("(") {
                let (args, keywords) = try parseArguments()
                e = .call(e, arguments: args, keywords: keywords)
            } else {
                return e
            }
        }
    }

    /// `| name`, `| name(args)`, repeated; a `{% filter %}` block starts without the first `|`.
    mutating func parseFilterChain(on base: Expression, leadingPipe: Bool = true) throws -> Expression {
        let saved = depth
        defer { depth = saved }
        var e = base
        var needsPipe = leadingPipe
        while !needsPipe || accept("|") {
            needsPipe = true
            try deeper()
            let name = try expectName()
            var args: [Expression] = []
            var keywords: [(String, Expression)] = []
            if accept("(") { (args, keywords) = try parseArguments() }
            e = .filter(e, name: name, arguments: args, keywords: keywords)
        }
        return e
    }
}
