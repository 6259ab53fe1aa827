/// A grammar over bytes for constrained decoding: JSON values shaped by a schema, and the literal
/// text around them (a tool call's tags and name). Nodes refer to each other by index, so schemas
/// that refer to themselves (`$ref`) and "any JSON value" are finite graphs.
public struct Grammar: Sendable, Equatable {
    public typealias NodeID = Int32

    public enum Node: Sendable, Equatable {
        /// Exactly these bytes.
        case literal([UInt8])
        /// A JSON string of `minLength...maxLength` characters (escapes count as one).
        case string(minLength: Int, maxLength: Int?)
        /// A JSON string of `minLength...maxLength` characters whose value the automaton accepts
        /// (holding no character that needs an escape).
        case pattern(PatternAutomaton, minLength: Int, maxLength: Int?)
        /// A JSON number; `integer`: no fraction or exponent.
        case number(integer: Bool)
        /// A JSON object: its declared properties in any order, each at most once, all of
        /// `required` (a bit per property) present; other keys only when `additional` gives their values' node.
        case object(properties: [Property], required: UInt64, additional: NodeID?)
        /// A JSON array of `minItems...maxItems` items.
        case array(item: NodeID, minItems: Int, maxItems: Int?)
        /// Each node in turn.
        case sequence([NodeID])
        /// Any one of the nodes.
        case choice([NodeID])
    }

    public struct Property: Sendable, Equatable {
        /// The key as it appears between the quotes (JSON-escaped).
        public var key: [UInt8]
        public var value: NodeID
    }

    /// Declared properties an object may have (one bit each in the matcher).
    public static let maxProperties = 64

    public private(set) var nodes: [Node] = [.string(minLength: 0, maxLength: nil)]
    public var root: NodeID = 0

    /// Node 0: any string, for the keys of an object's other properties.
    public static let anyString: NodeID = 0

    public init() {}

    public subscript(id: NodeID) -> Node {
        get { nodes[Int(id)] }
        set { nodes[Int(id)] = newValue }
    }

    /// Adds a node and returns its index.
    @discardableResult public mutating func add(_ node: Node) -> NodeID {
        nodes.append(node)
        return NodeID(nodes.count - 1)
    }

    public mutating func literal(_ text: String) -> NodeID { add(.literal(Array(text.utf8))) }

    /// Any JSON value (objects with any keys, arrays of anything).
    public mutating func anyValue() -> NodeID {
        let any = add(.choice([]))
        let object = add(.object(properties: [], required: 0, additional: any))
        let array = add(.array(item: any, minItems: 0, maxItems: nil))
        let number = add(.number(integer: false))
        let yes = literal("true"), no = literal("false"), null = literal("null")
        self[any] = .choice([object, array, Self.anyString, number, yes, no, null])
        return any
    }
}
