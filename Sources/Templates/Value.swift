/// A value inside a template: the Python/Jinja data model reduced to what chat templates use.
public indirect enum Value: Sendable {
    case undefined
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([Value])
    /// Keys keep their insertion order, as Python dicts do.
    case object(Object)
    case macro(Macro)
    case namespace(Namespace)
    case builtin(Builtin)

    public struct Object: Sendable {
        public private(set) var keys: [String] = []
        public private(set) var values: [String: Value] = [:]
        public init() {}
        public init(_ pairs: [(String, Value)]) { for (k, v) in pairs { self[k] = v } }
        public subscript(key: String) -> Value? {
            get { values[key] }
            set {
                if values[key] == nil, newValue != nil { keys.append(key) }
                if newValue == nil { keys.removeAll { $0 == key } }
                values[key] = newValue
            }
        }
        public var pairs: [(String, Value)] { keys.map { ($0, values[$0]!) } }
    }

    public struct Macro: Sendable {
        let name: String
        let parameters: [String]
        let defaults: [String: Expression]
        let body: [Node]
    }

    /// `namespace()`: the one mutable object templates have, shared by reference.
    public final class Namespace: @unchecked Sendable {
        var attributes = Object()
    }

    public struct Builtin: Sendable {
        let name: String
        let call: @Sendable ([Value], [String: Value]) throws -> Value
    }

    public var isTruthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .array(let a): return !a.isEmpty
        case .object(let o): return !o.keys.isEmpty
        case .macro, .namespace, .builtin: return true
        }
    }

    public var isDefined: Bool { if case .undefined = self { return false }; return true }

    /// Python's name for the type, for error messages.
    var typeName: String {
        switch self {
        case .undefined: return "undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .array: return "list"
        case .object: return "dict"
        case .macro: return "macro"
        case .namespace: return "Namespace"
        case .builtin: return "builtin_function_or_method"
        }
    }
}

extension Value: Equatable {
    public static func == (a: Value, b: Value) -> Bool {
        switch (a, b) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y
        case (.int(let x), .double(let y)), (.double(let y), .int(let x)): return Double(x) == y
        case (.bool(let x), .int(let y)), (.int(let y), .bool(let x)): return (x ? 1 : 0) == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)): return x.keys.count == y.keys.count && x.keys.allSatisfy { x[$0] == y[$0] }
        case (.namespace(let x), .namespace(let y)): return x === y
        default: return false
        }
    }
}

extension Value {
    /// Builds template data from JSON-like Swift values (what the server decodes from a request).
    public init(json: Any?) {
        switch json {
        case nil: self = .none
        case let v as Value: self = v
        case let b as Bool: self = .bool(b)
        case let i as Int: self = .int(i)
        case let d as Double: self = d.rounded() == d && abs(d) < 1e15 && !(json is Double) ? .int(Int(d)) : .double(d)
        case let s as String: self = .string(s)
        case let a as [Any?]: self = .array(a.map { Value(json: $0) })
        case let a as [Any]: self = .array(a.map { Value(json: $0) })
        case let o as [(String, Any?)]: self = .object(Object(o.map { ($0.0, Value(json: $0.1)) }))
        case let o as [String: Any?]: self = .object(Object(o.keys.sorted().map { ($0, Value(json: o[$0]!)) }))
        case let o as [String: Any]: self = .object(Object(o.keys.sorted().map { ($0, Value(json: o[$0]!)) }))
        default: self = .none
        }
    }
}
