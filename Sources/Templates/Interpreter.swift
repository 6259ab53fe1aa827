import Foundation

/// Evaluates a node tree against a context, with Jinja's scoping: loop bodies and macros get their
/// own scope, `set` writes to the innermost one, `namespace()` objects are shared by reference.
final class Interpreter {
    static let blockContent = "__block__"

    enum Flow { case normal, breakLoop, continueLoop }

    var output = ""
    private var scopes: [[String: Value]]
    private let limits: Template.Limits
    private var iterations = 0
    private var depth = 0

    init(globals: [String: Value], limits: Template.Limits) {
        self.limits = limits
        var base = Builtins.globals
        for (k, v) in globals { base[k] = v }
        scopes = [base]
    }

    // MARK: - Statements

    func run(_ nodes: [Node]) throws -> Flow {
        for node in nodes {
            let flow = try execute(node)
            if flow != .normal { return flow }
        }
        return .normal
    }

    private func emit(_ s: String) throws {
        output += s
        if output.utf8.count > limits.outputBytes { throw TemplateError.limit("output longer than \(limits.outputBytes) bytes") }
    }

    private func execute(_ node: Node) throws -> Flow {
        switch node {
        case .text(let t):
            try emit(t)
        case .output(let e):
            try emit(Builtins.string(try eval(e)))
        case .ifChain(let branches, let otherwise):
            for (condition, body) in branches where try eval(condition).isTruthy {
                return try run(body)
            }
            return try run(otherwise)
        case .forLoop(let targets, let iterable, let filter, let body, let otherwise):
            return try runLoop(targets: targets, iterable: try eval(iterable), filter: filter, body: body, otherwise: otherwise)
        case .set(let target, let value):
            try assign(target, try eval(value))
        case .setBlock(let target, let body):
            try assign(target, .string(try capture(body)))
        case .macro(let name, let parameters, let defaults, let body):
            set(name, .macro(Value.Macro(name: name, parameters: parameters, defaults: defaults, body: body)))
        case .callBlock(let call, let body):
            guard case .call(let callee, let args, let keywords) = call else { throw TemplateError.syntax("call block needs a macro call") }
            let caller = Value.macro(Value.Macro(name: "caller", parameters: [], defaults: [:], body: body))
            try emit(Builtins.string(try callValue(try eval(callee), try args.map(eval), try evalKeywords(keywords), caller: caller)))
        case .filterBlock(let filter, let body):
            let content = try capture(body)
            scopes.append([Self.blockContent: .string(content)])
            defer { scopes.removeLast() }
            try emit(Builtins.string(try eval(filter)))
        case .breakLoop:
            return .breakLoop
        case .continueLoop:
            return .continueLoop
        }
        return .normal
    }

    private func capture(_ body: [Node]) throws -> String {
        let saved = output
        output = ""
        defer { output = saved }
        _ = try run(body)
        return output
    }

    private func runLoop(targets: [String], iterable: Value, filter: Expression?, body: [Node], otherwise: [Node]) throws -> Flow {
        var items = try Builtins.iterate(iterable)
        if let filter {
            items = try items.filter { item in
                scopes.append([:])
                defer { scopes.removeLast() }
                try bind(targets, item)
                return try eval(filter).isTruthy
            }
        }
        if items.isEmpty { return try run(otherwise) }
        for (index, item) in items.enumerated() {
            iterations += 1
            if iterations > limits.loopIterations { throw TemplateError.limit("more than \(limits.loopIterations) loop iterations") }
            var loop = Value.Object()
            loop["index"] = .int(index + 1)
            loop["index0"] = .int(index)
            loop["revindex"] = .int(items.count - index)
            loop["revindex0"] = .int(items.count - index - 1)
            loop["first"] = .bool(index == 0)
            loop["last"] = .bool(index == items.count - 1)
            loop["length"] = .int(items.count)
            loop["previtem"] = index > 0 ? items[index - 1] : .undefined
            loop["nextitem"] = index + 1 < items.count ? items[index + 1] : .undefined
            let cycleIndex = index
            loop["cycle"] = .builtin(Value.Builtin(name: "cycle") { args, _ in args.isEmpty ? .none : args[cycleIndex % args.count] })
            scopes.append(["loop": .object(loop)])
            defer { scopes.removeLast() }
            try bind(targets, item)
            if try run(body) == .breakLoop { break }
        }
        return .normal
    }

    private func bind(_ targets: [String], _ item: Value) throws {
        if targets.count == 1 {
            set(targets[0], item)
            return
        }
        let parts = try Builtins.iterate(item)
        guard parts.count == targets.count else {
            throw TemplateError.runtime("cannot unpack \(parts.count) values into \(targets.count) names")
        }
        for (name, value) in zip(targets, parts) { set(name, value) }
    }

    private func set(_ name: String, _ value: Value) {
        scopes[scopes.count - 1][name] = value
    }

    private func assign(_ target: SetTarget, _ value: Value) throws {
        switch target {
        case .names(let names):
            try bind(names, value)
        case .attribute(let object, let name):
            guard case .namespace(let ns) = lookup(object) else {
                throw TemplateError.runtime("cannot assign attribute '\(name)' of '\(object)': only namespace() objects can be changed")
            }
            ns.attributes[name] = value
        }
    }

    private func lookup(_ name: String) -> Value {
        for scope in scopes.reversed() { if let v = scope[name] { return v } }
        return .undefined
    }

    // MARK: - Expressions

    func eval(_ e: Expression) throws -> Value {
        switch e {
        case .literal(let v): return v
        case .name(let n): return lookup(n)
        case .list(let items), .tuple(let items): return .array(try items.map(eval))
        case .dict(let pairs):
            var o = Value.Object()
            for (k, v) in pairs { o[Builtins.string(try eval(k))] = try eval(v) }
            return .object(o)
        case .attribute(let base, let name):
            return try Builtins.attribute(try eval(base), name)
        case .subscriptIndex(let base, let index):
            return try Builtins.item(try eval(base), try eval(index))
        case .slice(let base, let start, let stop, let step):
            return try Builtins.slice(try eval(base), try start.map(eval), try stop.map(eval), try step.map(eval))
        case .call(let callee, let args, let keywords):
            return try callValue(try eval(callee), try args.map(eval), try evalKeywords(keywords), caller: nil)
        case .filter(let base, let name, let args, let keywords):
            return try Builtins.filter(name, try eval(base), try args.map(eval), try evalKeywords(keywords)) { [unowned self] macro, args in
                try self.callValue(macro, args, [:], caller: nil)
            }
        case .test(let base, let name, let args, let negated):
            let result = try Builtins.test(name, try eval(base), try args.map(eval))
            return .bool(result != negated)
        case .unary(let op, let operand):
            let v = try eval(operand)
            switch op {
            case "not": return .bool(!v.isTruthy)
            default: return try Builtins.negate(v)
            }
        case .binary(let op, let l, let r):
            switch op {
            case "and":
                let left = try eval(l)
                return left.isTruthy ? try eval(r) : left
            case "or":
                let left = try eval(l)
                return left.isTruthy ? left : try eval(r)
            default:
                return try Builtins.binary(op, try eval(l), try eval(r))
            }
        case .conditional(let value, let condition, let otherwise):
            if try eval(condition).isTruthy { return try eval(value) }
            return try otherwise.map(eval) ?? .undefined
        }
    }

    private func evalKeywords(_ keywords: [(String, Expression)]) throws -> [String: Value] {
        var out: [String: Value] = [:]
        for (k, e) in keywords { out[k] = try eval(e) }
        return out
    }

    func callValue(_ callee: Value, _ args: [Value], _ keywords: [String: Value], caller: Value?) throws -> Value {
        switch callee {
        case .builtin(let b):
            return try b.call(args, keywords)
        case .macro(let m):
            depth += 1
            defer { depth -= 1 }
            if depth > limits.callDepth { throw TemplateError.limit("macro calls nested deeper than \(limits.callDepth)") }
            var scope: [String: Value] = [:]
            for (i, p) in m.parameters.enumerated() {
                if i < args.count { scope[p] = args[i] }
                else if let k = keywords[p] { scope[p] = k }
                else if let d = m.defaults[p] { scope[p] = try eval(d) }
                else { scope[p] = .undefined }
            }
            scope["varargs"] = .array(Array(args.dropFirst(m.parameters.count)))
            if let caller { scope["caller"] = caller }
            let saved = output
            output = ""
            scopes.append(scope)
            defer {
                scopes.removeLast()
                output = saved
            }
            _ = try run(m.body)
            return .string(output)
        default:
            throw TemplateError.runtime("'\(callee.typeName)' object is not callable")
        }
    }
}
