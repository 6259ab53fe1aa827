/// Typed access to metadata. Missing keys are nil; a key of the wrong type is an error.
extension GGUFFile {
    public var architecture: String? { metadata["general.architecture"]?.string }

    /// The key under the architecture's prefix, e.g. `llama.context_length`.
    public func architectureKey(_ suffix: String) -> String {
        "\(architecture ?? "unknown").\(suffix)"
    }

    public func string(_ key: String) throws -> String? {
        guard let v = metadata[key] else { return nil }
        guard let s = v.string else { throw GGUFError.wrongType(key: key, expected: "string", found: v.typeName) }
        return s
    }

    public func integer(_ key: String) throws -> Int? {
        guard let v = metadata[key] else { return nil }
        guard let i = v.integer, let n = Int(exactly: i) else { throw GGUFError.wrongType(key: key, expected: "integer", found: v.typeName) }
        return n
    }

    public func float(_ key: String) throws -> Float? {
        guard let v = metadata[key] else { return nil }
        guard let d = v.number else { throw GGUFError.wrongType(key: key, expected: "number", found: v.typeName) }
        return Float(d)
    }

    public func bool(_ key: String) throws -> Bool? {
        guard let v = metadata[key] else { return nil }
        guard let b = v.bool else { throw GGUFError.wrongType(key: key, expected: "bool", found: v.typeName) }
        return b
    }

    public func stringArray(_ key: String) throws -> [String]? {
        guard let v = metadata[key] else { return nil }
        guard case .array(_, let items) = v else { throw GGUFError.wrongType(key: key, expected: "array of strings", found: v.typeName) }
        return try items.map {
            guard let s = $0.string else { throw GGUFError.wrongType(key: key, expected: "array of strings", found: v.typeName) }
            return s
        }
    }

    public func floatArray(_ key: String) throws -> [Float]? {
        guard let v = metadata[key] else { return nil }
        guard case .array(_, let items) = v else { throw GGUFError.wrongType(key: key, expected: "array of numbers", found: v.typeName) }
        return try items.map {
            guard let d = $0.number else { throw GGUFError.wrongType(key: key, expected: "array of numbers", found: v.typeName) }
            return Float(d)
        }
    }

    public func integerArray(_ key: String) throws -> [Int]? {
        guard let v = metadata[key] else { return nil }
        guard case .array(_, let items) = v else { throw GGUFError.wrongType(key: key, expected: "array of integers", found: v.typeName) }
        return try items.map {
            guard let i = $0.integer, let n = Int(exactly: i) else { throw GGUFError.wrongType(key: key, expected: "array of integers", found: v.typeName) }
            return n
        }
    }

    /// Trained context length (`{arch}.context_length`).
    public var contextLength: Int? { try? integer(architectureKey("context_length")) }

    public var chatTemplate: String? { try? string("tokenizer.chat_template") }
}
