import Foundation

/// Jinja filters and tests, and the Python methods of strings, lists and dicts that templates call.
extension Builtins {
    static func method(_ base: Value, _ name: String) -> Value? {
        switch base {
        case .string(let s): return stringMethod(s, name)
        case .object(let o):
            switch name {
            case "items": return fn(name) { _, _ in .array(o.pairs.map { .array([.string($0.0), $0.1]) }) }
            case "keys": return fn(name) { _, _ in .array(o.keys.map { .string($0) }) }
            case "values": return fn(name) { _, _ in .array(o.pairs.map { $0.1 }) }
            case "get": return fn(name) { args, _ in
                guard let key = args.first else { return .none }
                return o[string(key)] ?? (args.count > 1 ? args[1] : .none)
            }
            default: return nil
            }
        case .array(let a):
            switch name {
            case "index": return fn(name) { args, _ in
                guard let x = args.first, let i = a.firstIndex(of: x) else { throw TemplateError.runtime("value is not in list") }
                return .int(i)
            }
            case "count": return fn(name) { args, _ in .int(a.filter { $0 == args.first }.count) }
            default: return nil
            }
        default: return nil
        }
    }

    static func stringMethod(_ s: String, _ name: String) -> Value? {
        @Sendable func chars(_ args: [Value]) -> CharacterSet {
            if case .string(let c)? = args.first { return CharacterSet(charactersIn: c) }
            return .whitespacesAndNewlines
        }
        switch name {
        case "strip": return fn(name) { args, _ in .string(s.trimmingCharacters(in: chars(args))) }
        case "lstrip": return fn(name) { args, _ in
            let set = chars(args)
            return .string(String(String.UnicodeScalarView(s.unicodeScalars.drop { set.contains($0) })))
        }
        case "rstrip": return fn(name) { args, _ in
            let set = chars(args)
            var scalars = Array(s.unicodeScalars)
            while let last = scalars.last, set.contains(last) { scalars.removeLast() }
            return .string(String(String.UnicodeScalarView(scalars)))
        }
        case "upper": return fn(name) { _, _ in .string(s.uppercased()) }
        case "lower": return fn(name) { _, _ in .string(s.lowercased()) }
        case "title": return fn(name) { _, _ in .string(s.capitalized) }
        case "capitalize": return fn(name) { _, _ in .string(s.prefix(1).uppercased() + s.dropFirst().lowercased()) }
        case "startswith", "endswith": return fn(name) { args, _ in
            let candidates: [Value] = { if case .array(let a)? = args.first { return a }; return args.prefix(1).map { $0 } }()
            let test = name == "startswith" ? s.hasPrefix : s.hasSuffix
            return .bool(candidates.contains { test(string($0)) })
        }
        case "split": return fn(name) { args, _ in
            let limit = args.count > 1 ? (try integer(args[1])) : -1
            if let sep = args.first, sep != .none {
                let separator = string(sep)
                guard !separator.isEmpty else { throw TemplateError.runtime("empty separator") }
                var parts = s.components(separatedBy: separator)
                if limit >= 0 && parts.count > limit + 1 {
                    parts = Array(parts[..<limit]) + [parts[limit...].joined(separator: separator)]
                }
                return .array(parts.map { .string($0) })
            }
            return .array(s.split(whereSeparator: { $0.isWhitespace }).map { .string(String($0)) })
        }
        case "replace": return fn(name) { args, _ in
            guard args.count >= 2 else { throw TemplateError.runtime("replace() takes two arguments") }
            return .string(s.replacingOccurrences(of: string(args[0]), with: string(args[1])))
        }
        case "find": return fn(name) { args, _ in
            guard let r = s.range(of: string(args.first ?? .string(""))) else { return .int(-1) }
            return .int(s.distance(from: s.startIndex, to: r.lowerBound))
        }
        case "join": return fn(name) { args, _ in .string(try iterate(args.first ?? .array([])).map(string).joined(separator: s)) }
        case "count": return fn(name) { args, _ in .int(s.components(separatedBy: string(args.first ?? .string(""))).count - 1) }
        case "format": return fn(name) { args, _ in
            var out = s
            for a in args { if let r = out.range(of: "{}") { out.replaceSubrange(r, with: string(a)) } }
            return .string(out)
        }
        default: return nil
        }
    }

    // MARK: - Filters

    static func filter(_ name: String, _ v: Value, _ args: [Value], _ keywords: [String: Value],
                       call: (Value, [Value]) throws -> Value) throws -> Value {
        switch name {
        case "tojson":
            let indent = try (keywords["indent"] ?? args.first).map { $0 == .none ? nil : try integer($0) } ?? nil
            return .string(try json(v, indent: indent, sortKeys: keywords["sort_keys"]?.isTruthy ?? false))
        case "trim": return .string(string(v).trimmingCharacters(in: .whitespacesAndNewlines))
        case "length", "count":
            switch v {
            case .string(let s): return .int(s.count)
            case .array(let a): return .int(a.count)
            case .object(let o): return .int(o.keys.count)
            case .undefined, .none: return .int(0)
            default: throw TemplateError.runtime("object of type '\(v.typeName)' has no len()")
            }
        case "upper": return .string(string(v).uppercased())
        case "lower": return .string(string(v).lowercased())
        case "capitalize": return .string(string(v).prefix(1).uppercased() + string(v).dropFirst().lowercased())
        case "title": return .string(string(v).capitalized)
        case "string": return .string(string(v))
        case "int": return .int((try? integer(v)) ?? 0)
        case "float": return .double(number(v) ?? Double(string(v)) ?? 0)
        case "abs": return number(v).map { d in if case .int(let i) = v { return .int(abs(i)) }; return .double(abs(d)) } ?? v
        case "list": return .array(try iterate(v))
        case "first": return try iterate(v).first ?? .undefined
        case "last": return try iterate(v).last ?? .undefined
        case "reverse":
            if case .string(let s) = v { return .string(String(s.reversed())) }
            return .array(try iterate(v).reversed())
        case "join":
            let separator = args.first.map(string) ?? ""
            var items = try iterate(v)
            if let attribute = keywords["attribute"] { items = try items.map { try attributePath($0, string(attribute)) } }
            return .string(items.map(string).joined(separator: separator))
        case "default", "d":
            let fallback = args.first ?? .string("")
            let boolean = args.count > 1 ? args[1].isTruthy : (keywords["boolean"]?.isTruthy ?? false)
            if !v.isDefined || (boolean && !v.isTruthy) { return fallback }
            return v
        case "replace":
            guard args.count >= 2 else { throw TemplateError.runtime("replace needs two arguments") }
            return .string(string(v).replacingOccurrences(of: string(args[0]), with: string(args[1])))
        case "items":
            guard case .object(let o) = v else { return .array([]) }
            return .array(o.pairs.map { .array([.string($0.0), $0.1]) })
        case "dictsort":
            guard case .object(let o) = v else { return .array([]) }
            return .array(o.keys.sorted().map { .array([.string($0), o[$0]!]) })
        case "map":
            let items = try iterate(v)
            if let attribute = keywords["attribute"] {
                return .array(try items.map { try attributePath($0, string(attribute)) })
            }
            guard let filterName = args.first.map(string) else { return .array(items) }
            return .array(try items.map { try filter(filterName, $0, Array(args.dropFirst()), [:], call: call) })
        case "select", "reject":
            let items = try iterate(v)
            let testName = args.first.map(string)
            return .array(try items.filter { item in
                let ok = try testName.map { try test($0, item, Array(args.dropFirst())) } ?? item.isTruthy
                return ok == (name == "select")
            })
        case "selectattr", "rejectattr":
            guard let attribute = args.first.map(string) else { throw TemplateError.runtime("\(name) needs an attribute") }
            let items = try iterate(v)
            return .array(try items.filter { item in
                let value = try attributePath(item, attribute)
                let ok = args.count > 1 ? try test(string(args[1]), value, Array(args.dropFirst(2))) : value.isTruthy
                return ok == (name == "selectattr")
            })
        case "unique":
            var seen: [Value] = []
            for item in try iterate(v) where !seen.contains(item) { seen.append(item) }
            return .array(seen)
        case "sort":
            let reverse = keywords["reverse"]?.isTruthy ?? false
            let attribute = keywords["attribute"].map(string)
            let sorted = try iterate(v).sorted { a, b in
                let x = try? attributePath(a, attribute ?? ""), y = try? attributePath(b, attribute ?? "")
                let l = attribute == nil ? a : (x ?? .none), r = attribute == nil ? b : (y ?? .none)
                return ((try? binary("<", l, r).isTruthy) ?? false) != reverse
            }
            return .array(sorted)
        case "indent":
            let width = try args.first.map(integer) ?? 4
            let pad = String(repeating: " ", count: width)
            let lines = string(v).components(separatedBy: "\n")
            let first = (keywords["first"]?.isTruthy ?? false) ? pad : ""
            return .string(first + lines.enumerated().map { $0.offset == 0 ? $0.element : ($0.element.isEmpty ? "" : pad + $0.element) }.joined(separator: "\n"))
        case "round":
            let precision = try args.first.map(integer) ?? 0
            let scale = pow(10, Double(precision))
            return .double(((number(v) ?? 0) * scale).rounded() / scale)
        case "safe", "e", "escape", "striptags": return name == "safe" ? v : .string(string(v))
        case "wordcount": return .int(string(v).split(whereSeparator: { $0.isWhitespace }).count)
        case "batch", "slice": throw TemplateError.runtime("filter '\(name)' is not supported")
        default:
            throw TemplateError.runtime("no filter named '\(name)'")
        }
    }

    /// `a.b.c` lookups for `map(attribute=)`, `selectattr` and friends.
    static func attributePath(_ v: Value, _ path: String) throws -> Value {
        var current = v
        for part in path.split(separator: ".") {
            if let i = Int(part), case .array = current { current = try item(current, .int(i)) }
            else if case .object(let o) = current { current = o[String(part)] ?? .undefined }
            else { return .undefined }
        }
        return current
    }

    // MARK: - Tests

    static func test(_ name: String, _ v: Value, _ args: [Value]) throws -> Bool {
        switch name {
        case "defined": return v.isDefined
        case "undefined": return !v.isDefined
        case "none": return v == .none && v.isDefined
        case "string": if case .string = v { return true }; return false
        case "number": if case .int = v { return true }; if case .double = v { return true }; return false
        case "integer": if case .int = v { return true }; return false
        case "float": if case .double = v { return true }; return false
        case "boolean": if case .bool = v { return true }; return false
        case "mapping": if case .object = v { return true }; return false
        case "sequence", "iterable":
            switch v { case .array, .string, .object: return true; default: return false }
        case "callable": switch v { case .macro, .builtin: return true; default: return false }
        case "true": return v == .bool(true)
        case "false": return v == .bool(false)
        case "odd": return (try integer(v)) % 2 != 0
        case "even": return (try integer(v)) % 2 == 0
        case "divisibleby": return try integer(v) % max(1, try integer(args.first ?? .int(1))) == 0
        case "eq", "equalto", "==": return v == (args.first ?? .undefined)
        case "ne", "!=": return v != (args.first ?? .undefined)
        case "lt", "lessthan", "<": return try binary("<", v, args.first ?? .none).isTruthy
        case "gt", "greaterthan", ">": return try binary(">", v, args.first ?? .none).isTruthy
        case "le", "<=": return try binary("<=", v, args.first ?? .none).isTruthy
        case "ge", ">=": return try binary(">=", v, args.first ?? .none).isTruthy
        case "in": return try binary("in", v, args.first ?? .array([])).isTruthy
        case "lower": return string(v) == string(v).lowercased()
        case "upper": return string(v) == string(v).uppercased()
        case "sameas": return v == (args.first ?? .undefined)
        default: throw TemplateError.runtime("no test named '\(name)'")
        }
    }
}
