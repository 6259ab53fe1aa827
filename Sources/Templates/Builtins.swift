import Foundation

/// Operators, filters, tests, methods and global functions, following Python/Jinja semantics.
enum Builtins {
    static func fn(_ name: String, _ call: @escaping @Sendable ([Value], [String: Value]) throws -> Value) -> Value {
        .builtin(Value.Builtin(name: name, call: call))
    }

    static let globals: [String: Value] = [
        "range": fn("range") { args, _ in
            let n = try args.map { try integer($0) }
            let (start, stop, step) = n.count == 1 ? (0, n[0], 1) : n.count == 2 ? (n[0], n[1], 1) : n.count == 3 ? (n[0], n[1], n[2]) : (0, 0, 1)
            guard step != 0 else { throw TemplateError.runtime("range() step must not be zero") }
            guard abs((stop - start) / step) <= 1_000_000 else { throw TemplateError.limit("range() too long") }
            return .array(stride(from: start, to: stop, by: step).map { .int($0) })
        },
        "namespace": fn("namespace") { args, keywords in
            let ns = Value.Namespace()
            if case .object(let o)? = args.first { for (k, v) in o.pairs { ns.attributes[k] = v } }
            for k in keywords.keys.sorted() { ns.attributes[k] = keywords[k] }
            return .namespace(ns)
        },
        "dict": fn("dict") { args, keywords in
            var o = Value.Object()
            if case .object(let base)? = args.first { o = base }
            for k in keywords.keys.sorted() { o[k] = keywords[k] }
            return .object(o)
        },
        "raise_exception": fn("raise_exception") { args, _ in
            throw TemplateError.raised(args.first.map(string) ?? "template raised an exception")
        },
        "strftime_now": fn("strftime_now") { args, _ in
            .string(strftime(args.first.map(string) ?? "%Y-%m-%d", Date()))
        },
    ]

    static func strftime(_ format: String, _ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var tmValue = tm()
        localtime_r(&t, &tmValue)
        var buffer = [Int8](repeating: 0, count: 256)
        let n = Foundation.strftime(&buffer, buffer.count, format, &tmValue)
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: - Conversions

    static func integer(_ v: Value) throws -> Int {
        switch v {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        case .double(let d): return Int(d)
        case .string(let s): if let i = Int(s.trimmingCharacters(in: .whitespaces)) { return i }
        default: break
        }
        throw TemplateError.runtime("expected an integer, got \(v.typeName)")
    }

    /// Python's `str()`.
    static func string(_ v: Value) -> String {
        switch v {
        case .undefined: return ""
        case .string(let s): return s
        default: return repr(v, top: true)
        }
    }

    /// Python's `repr()` (strings quoted), used inside containers.
    static func repr(_ v: Value, top: Bool = false) -> String {
        switch v {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return pythonFloat(d)
        case .string(let s):
            if top { return s }
            let quote = s.contains("'") && !s.contains("\"") ? "\"" : "'"
            var out = quote
            for c in s.unicodeScalars {
                switch c {
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default:
                    if String(c) == quote { out += "\\" + quote } else { out.unicodeScalars.append(c) }
                }
            }
            return out + quote
        case .array(let a): return "[" + a.map { repr($0) }.joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.pairs.map { repr(.string($0.0)) + ": " + repr($0.1) }.joined(separator: ", ") + "}"
        case .macro(let m): return "<Macro '\(m.name)'>"
        case .namespace: return "<Namespace>"
        case .builtin(let b): return "<built-in function \(b.name)>"
        }
    }

    static func pythonFloat(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d > 0 ? "inf" : "-inf" }
        if d == d.rounded() && abs(d) < 1e16 { return String(format: "%.1f", d) }
        return "\(d)"
    }

    // MARK: - JSON (Python's json.dumps with ensure_ascii=False)

    static func json(_ v: Value, indent: Int?, level: Int = 0, sortKeys: Bool = false) throws -> String {
        let newline = indent.map { "\n" + String(repeating: " ", count: $0 * (level + 1)) } ?? ""
        let closing = indent.map { "\n" + String(repeating: " ", count: $0 * level) } ?? ""
        let itemSeparator = indent == nil ? ", " : ","
        switch v {
        case .undefined, .none: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return d.isFinite ? pythonFloat(d) : (d.isNaN ? "NaN" : d > 0 ? "Infinity" : "-Infinity")
        case .string(let s): return jsonString(s)
        case .array(let a):
            if a.isEmpty { return "[]" }
            return "[" + newline + (try a.map { try json($0, indent: indent, level: level + 1, sortKeys: sortKeys) }).joined(separator: itemSeparator + newline) + closing + "]"
        case .object(let o):
            if o.keys.isEmpty { return "{}" }
            let keys = sortKeys ? o.keys.sorted() : o.keys
            let items = try keys.map { jsonString($0) + ": " + (try json(o[$0]!, indent: indent, level: level + 1, sortKeys: sortKeys)) }
            return "{" + newline + items.joined(separator: itemSeparator + newline) + closing + "}"
        case .namespace(let ns): return try json(.object(ns.attributes), indent: indent, level: level, sortKeys: sortKeys)
        case .macro, .builtin: throw TemplateError.runtime("Object of type \(v.typeName) is not JSON serializable")
        }
    }

    static func compactJSON(_ v: Value) -> String {
        switch v {
        case .array(let a): return "[" + a.map(compactJSON).joined(separator: ",") + "]"
        case .object(let o): return "{" + o.pairs.map { jsonString($0.0) + ":" + compactJSON($0.1) }.joined(separator: ",") + "}"
        case .namespace(let ns): return compactJSON(.object(ns.attributes))
        case .macro, .builtin: return "null"
        default: return (try? json(v, indent: nil)) ?? "null"
        }
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if c.value < 0x20 { out += String(format: "\\u%04x", c.value) } else { out.unicodeScalars.append(c) }
            }
        }
        return out + "\""
    }

    // MARK: - Access

    static func iterate(_ v: Value) throws -> [Value] {
        switch v {
        case .undefined, .none: return []
        case .array(let a): return a
        case .object(let o): return o.keys.map { .string($0) }
        case .string(let s): return s.map { .string(String($0)) }
        default: throw TemplateError.runtime("'\(v.typeName)' object is not iterable")
        }
    }

    static func attribute(_ base: Value, _ name: String) throws -> Value {
        switch base {
        case .object(let o):
            if let v = o[name] { return v }
            return method(base, name) ?? .undefined
        case .namespace(let ns): return ns.attributes[name] ?? .undefined
        case .undefined: throw TemplateError.runtime("'undefined' has no attribute '\(name)'")
        case .none: throw TemplateError.runtime("'NoneType' object has no attribute '\(name)'")
        default: return method(base, name) ?? .undefined
        }
    }

    static func item(_ base: Value, _ index: Value) throws -> Value {
        switch (base, index) {
        case (.array(let a), _):
            var i = try integer(index)
            if i < 0 { i += a.count }
            return a.indices.contains(i) ? a[i] : .undefined
        case (.string(let s), _):
            let chars = Array(s)
            var i = try integer(index)
            if i < 0 { i += chars.count }
            return chars.indices.contains(i) ? .string(String(chars[i])) : .undefined
        case (.object, .string(let k)): return try attribute(base, k)
        case (.object(let o), _): return o[string(index)] ?? .undefined
        case (.namespace(let ns), .string(let k)): return ns.attributes[k] ?? .undefined
        case (.undefined, _): throw TemplateError.runtime("'undefined' is not subscriptable")
        case (.none, _): throw TemplateError.runtime("'NoneType' object is not subscriptable")
        default: return .undefined
        }
    }

    static func slice(_ base: Value, _ start: Value?, _ stop: Value?, _ step: Value?) throws -> Value {
        func bounds(_ n: Int) throws -> [Int] {
            let st = try step.map(integer) ?? 1
            guard st != 0 else { throw TemplateError.runtime("slice step cannot be zero") }
            func clamp(_ v: Value?, _ fallback: Int) throws -> Int {
                guard let v, v.isDefined, v != .none else { return fallback }
                var i = try integer(v)
                if i < 0 { i += n }
                return st > 0 ? min(max(i, 0), n) : min(max(i, -1), n - 1)
            }
            let a = try clamp(start, st > 0 ? 0 : n - 1), b = try clamp(stop, st > 0 ? n : -1)
            return Array(stride(from: a, to: b, by: st))
        }
        switch base {
        case .array(let arr): return .array(try bounds(arr.count).map { arr[$0] })
        case .string(let s):
            let chars = Array(s)
            return .string(String(try bounds(chars.count).map { chars[$0] }))
        default: throw TemplateError.runtime("'\(base.typeName)' object is not sliceable")
        }
    }

    // MARK: - Operators

    static func negate(_ v: Value) throws -> Value {
        switch v {
        case .int(let i): return .int(-i)
        case .double(let d): return .double(-d)
        default: throw TemplateError.runtime("bad operand type for unary -: '\(v.typeName)'")
        }
    }

    static func number(_ v: Value) -> Double? {
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    static func binary(_ op: String, _ l: Value, _ r: Value) throws -> Value {
        switch op {
        case "==": return .bool(l == r)
        case "!=": return .bool(l != r)
        case "~": return .string(string(l) + string(r))
        case "in":
            switch r {
            case .string(let s): return .bool(s.contains(string(l)))
            case .array(let a): return .bool(a.contains(l))
            case .object(let o): return .bool(o[string(l)] != nil)
            case .undefined: return .bool(false)
            // As Python: `x in None` is a TypeError (a message's null content, say).
            default: throw TemplateError.runtime("argument of type '\(r.typeName)' is not iterable")
            }
        case "<", ">", "<=", ">=":
            let result: Bool
            if let a = number(l), let b = number(r) {
                result = op == "<" ? a < b : op == ">" ? a > b : op == "<=" ? a <= b : a >= b
            } else if case .string(let a) = l, case .string(let b) = r {
                result = op == "<" ? a < b : op == ">" ? a > b : op == "<=" ? a <= b : a >= b
            } else {
                throw TemplateError.runtime("'\(op)' not supported between '\(l.typeName)' and '\(r.typeName)'")
            }
            return .bool(result)
        case "+":
            switch (l, r) {
            case (.string(let a), .string(let b)): return .string(a + b)
            case (.array(let a), .array(let b)): return .array(a + b)
            case (.int(let a), .int(let b)): return .int(a &+ b)
            default: break
            }
        case "-": if case .int(let a) = l, case .int(let b) = r { return .int(a &- b) }
        case "**":
            if case .int(let a) = l, case .int(let b) = r, b >= 0, b < 64 {
                var result = 1
                for _ in 0..<b { result = result &* a }
                return .int(result)
            }
        case "*":
            switch (l, r) {
            case (.int(let a), .int(let b)): return .int(a &* b)
            case (.string(let s), .int(let n)), (.int(let n), .string(let s)):
                guard n <= 1_000_000 else { throw TemplateError.limit("string repetition too long") }
                return .string(String(repeating: s, count: max(n, 0)))
            default: break
            }
        case "//":
            if case .int(let a) = l, case .int(let b) = r {
                guard b != 0 else { throw TemplateError.runtime("integer division by zero") }
                return .int(Int((Double(a) / Double(b)).rounded(.down)))
            }
        case "%":
            if case .int(let a) = l, case .int(let b) = r {
                guard b != 0 else { throw TemplateError.runtime("integer modulo by zero") }
                return .int(((a % b) + b) % b)
            }
            if case .string(let fmt) = l { return .string(fmt.replacingOccurrences(of: "%s", with: string(r))) }
        default: break
        }
        guard let a = number(l), let b = number(r) else {
            throw TemplateError.runtime("unsupported operand types for \(op): '\(l.typeName)' and '\(r.typeName)'")
        }
        switch op {
        case "+": return .double(a + b)
        case "-": return .double(a - b)
        case "*": return .double(a * b)
        case "/":
            guard b != 0 else { throw TemplateError.runtime("division by zero") }
            return .double(a / b)
        case "//": return .double((a / b).rounded(.down))
        case "%": return .double(a - b * (a / b).rounded(.down))
        case "**": return .double(pow(a, b))
        default: throw TemplateError.runtime("unknown operator \(op)")
        }
    }
}
