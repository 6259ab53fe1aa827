import Templates

/// A JSON schema that constrained decoding cannot follow exactly: it is refused, never run
/// unconstrained. `message` names the keyword and where it is.
public struct SchemaError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Compiles the JSON Schema subset that tools and `response_format` use into grammar nodes:
/// `type` (one or several), `properties`/`required`/`additionalProperties`, `items`/`minItems`/
/// `maxItems`, `minLength`/`maxLength`, simple `pattern`s (`PatternAutomaton`), `enum`, `const`, `anyOf`/`oneOf` (both as "any of"),
/// `nullable`, and `$ref` into `$defs`/`definitions` (recursion included). Annotations (`description`,
/// `title`, `default`, `format`, …) are ignored; validation keywords outside the subset are refused.
public struct JSONSchemaCompiler {
    /// Keywords that restrict values in ways the grammar does not follow.
    static let unsupported: Set<String> = [
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "patternProperties",
        "propertyNames", "dependentRequired", "dependentSchemas", "dependencies", "if", "then", "else", "not", "allOf",
        "prefixItems", "additionalItems", "contains", "minContains", "maxContains", "uniqueItems", "minProperties",
        "maxProperties", "unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$recursiveRef",
    ]

    private var grammar: Grammar
    private let document: Value
    private var references: [String: Grammar.NodeID] = [:]
    private var any: Grammar.NodeID?

    private init(grammar: Grammar, document: Value) {
        self.grammar = grammar
        self.document = document
    }

    /// Adds `schema`'s nodes to `grammar` and returns the node of a value the schema accepts.
    /// `location` names the schema in errors (e.g. `response_format.json_schema.schema`).
    public static func compile(_ schema: Value, into grammar: inout Grammar, location: String) throws -> Grammar.NodeID {
        var compiler = JSONSchemaCompiler(grammar: grammar, document: schema)
        let node = try compiler.node(for: schema, at: location)
        grammar = compiler.grammar
        return node
    }

    private mutating func anyValue() -> Grammar.NodeID {
        if let any { return any }
        let node = grammar.anyValue()
        any = node
        return node
    }

    private func fail(_ message: String) -> SchemaError { SchemaError(message: message) }

    private mutating func node(for schema: Value, at path: String) throws -> Grammar.NodeID {
        switch schema {
        case .bool(true): return anyValue()
        case .bool(false): throw fail("The JSON schema at \(path) is `false`: no value matches it.")
        case .object(let o): return try node(for: o, at: path)
        default: throw fail("The JSON schema at \(path) must be an object or a boolean.")
        }
    }

    private mutating func node(for o: Value.Object, at path: String) throws -> Grammar.NodeID {
        if let keyword = o.keys.first(where: Self.unsupported.contains) {
            throw fail("The JSON schema keyword '\(keyword)' (at \(path)) is not supported for constrained decoding.")
        }
        var node: Grammar.NodeID
        if case .string(let reference)? = o["$ref"] {
            node = try self.reference(reference, at: path)
        } else if let constant = o["const"] {
            node = grammar.add(.literal(Array(constant.compactJSON.utf8)))
        } else if let values = o["enum"] {
            guard case .array(let items) = values, !items.isEmpty else { throw fail("'enum' at \(path) must be a non-empty array.") }
            var literals: [Grammar.NodeID] = []
            for item in items { literals.append(grammar.add(.literal(Array(item.compactJSON.utf8)))) }
            node = grammar.add(.choice(literals))
        } else if let alternatives = o["anyOf"] ?? o["oneOf"] {
            guard case .array(let items) = alternatives, !items.isEmpty else { throw fail("'anyOf'/'oneOf' at \(path) must be a non-empty array.") }
            var nodes: [Grammar.NodeID] = []
            for (i, item) in items.enumerated() { nodes.append(try self.node(for: item, at: "\(path).anyOf[\(i)]")) }
            node = grammar.add(.choice(nodes))
        } else {
            switch o["type"] {
            case .string(let type)?:
                node = try typed(type, o, at: path)
            case .array(let types)?:
                var nodes: [Grammar.NodeID] = []
                for type in types {
                    guard case .string(let name) = type else { throw fail("'type' at \(path) must hold type names.") }
                    nodes.append(try typed(name, o, at: path))
                }
                guard !nodes.isEmpty else { throw fail("'type' at \(path) is an empty list.") }
                node = grammar.add(.choice(nodes))
            case nil:
                if o["properties"] != nil || o["required"] != nil { node = try typed("object", o, at: path) }
                else if o["items"] != nil { node = try typed("array", o, at: path) }
                else { node = anyValue() }
            default:
                throw fail("'type' at \(path) must be a type name or a list of them.")
            }
        }
        if case .bool(true)? = o["nullable"] {
            let null = grammar.literal("null")
            node = grammar.add(.choice([node, null]))
        }
        return node
    }

    /// A `$ref` into this document: `#`, or a JSON pointer such as `#/$defs/Name`. A reference
    /// met again while it is compiled (recursion) points at the node being built.
    private mutating func reference(_ reference: String, at path: String) throws -> Grammar.NodeID {
        if let node = references[reference] { return node }
        guard reference.hasPrefix("#") else { throw fail("The $ref '\(reference)' (at \(path)) points outside the schema; only local references are supported.") }
        var target = document
        for token in reference.dropFirst().split(separator: "/", omittingEmptySubsequences: true) {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            guard case .object(let o) = target, let next = o[key] else { throw fail("The $ref '\(reference)' (at \(path)) points at nothing.") }
            target = next
        }
        let placeholder = grammar.add(.choice([]))
        references[reference] = placeholder
        let node = try self.node(for: target, at: reference)
        grammar[placeholder] = .choice([node])
        return placeholder
    }

    private mutating func typed(_ type: String, _ o: Value.Object, at path: String) throws -> Grammar.NodeID {
        switch type {
        case "object": return try object(o, at: path)
        case "array":
            var item: Grammar.NodeID
            switch o["items"] {
            case nil: item = anyValue()
            case .array?: throw fail("'items' as a list (at \(path)) is not supported for constrained decoding.")
            case let items?: item = try node(for: items, at: path + ".items")
            }
            let minItems = try count("minItems", o, at: path) ?? 0, maxItems = try count("maxItems", o, at: path)
            if let maxItems, maxItems < minItems { throw fail("'maxItems' is below 'minItems' at \(path).") }
            return grammar.add(.array(item: item, minItems: minItems, maxItems: maxItems))
        case "string":
            let minLength = try count("minLength", o, at: path) ?? 0, maxLength = try count("maxLength", o, at: path)
            if let maxLength, maxLength < minLength { throw fail("'maxLength' is below 'minLength' at \(path).") }
            switch o["pattern"] {
            case nil: break
            case .string(let pattern)?:
                do {
                    return grammar.add(.pattern(try PatternAutomaton(pattern: pattern), minLength: minLength, maxLength: maxLength))
                } catch let error as SchemaError {
                    throw fail("The JSON schema keyword 'pattern' (at \(path)): \(error.message)")
                }
            default: throw fail("'pattern' at \(path) must be a string.")
            }
            if minLength == 0 && maxLength == nil { return Grammar.anyString }
            return grammar.add(.string(minLength: minLength, maxLength: maxLength))
        case "number", "integer": return grammar.add(.number(integer: type == "integer"))
        case "boolean":
            let yes = grammar.literal("true"), no = grammar.literal("false")
            return grammar.add(.choice([yes, no]))
        case "null": return grammar.literal("null")
        default: throw fail("Unknown JSON schema type '\(type)' at \(path).")
        }
    }

    private mutating func object(_ o: Value.Object, at path: String) throws -> Grammar.NodeID {
        var properties: [Grammar.Property] = []
        var names: [String] = []
        if let declared = o["properties"] {
            guard case .object(let p) = declared else { throw fail("'properties' at \(path) must be an object.") }
            guard p.keys.count <= Grammar.maxProperties else {
                throw fail("The object at \(path) declares \(p.keys.count) properties; constrained decoding takes at most \(Grammar.maxProperties).")
            }
            for (name, schema) in p.pairs {
                let value = try node(for: schema, at: "\(path).properties.\(name)")
                properties.append(Grammar.Property(key: Array(Value.string(name).compactJSON.utf8.dropFirst().dropLast()), value: value))
                names.append(name)
            }
        }
        var required: UInt64 = 0
        if let list = o["required"] {
            guard case .array(let items) = list else { throw fail("'required' at \(path) must be an array of names.") }
            for item in items {
                guard case .string(let name) = item, let i = names.firstIndex(of: name) else {
                    throw fail("'required' at \(path) names \(item.compactJSON), which is not among its properties.")
                }
                required |= 1 << UInt64(i)
            }
        }
        // Without `additionalProperties`, other keys are allowed only where no property is declared:
        // a model filling a tool's arguments keeps to the declared ones.
        var additional: Grammar.NodeID?
        switch o["additionalProperties"] {
        case nil: additional = properties.isEmpty ? anyValue() : nil
        case .bool(let allowed)?: additional = allowed ? anyValue() : nil
        case let schema?: additional = try node(for: schema, at: path + ".additionalProperties")
        }
        return grammar.add(.object(properties: properties, required: required, additional: additional))
    }

    /// A non-negative whole number keyword.
    private func count(_ key: String, _ o: Value.Object, at path: String) throws -> Int? {
        switch o[key] {
        case nil: return nil
        case .int(let n)? where n >= 0 && n <= 1 << 20: return n
        case .double(let d)? where d >= 0 && d <= Double(1 << 20) && d.rounded() == d: return Int(d)
        default: throw fail("'\(key)' at \(path) must be a whole number from 0 to \(1 << 20).")
        }
    }
}
