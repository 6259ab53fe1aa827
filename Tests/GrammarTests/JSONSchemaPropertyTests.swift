import Grammar
import Templates
import Testing

/// Properties of compiled schemas on random data: every random valid instance (with random
/// whitespace) is accepted, and a random mutation of one is accepted only when it still fits the
/// schema, which most do not.
@Suite struct JSONSchemaPropertyTests {
    /// The shape of a schema, from which the test writes both the schema and instances of it.
    indirect enum Shape: Sendable {
        case object([(name: String, shape: Shape, required: Bool)])
        case array(Shape, min: Int, max: Int)
        case string(maxLength: Int)
        case integer, number, boolean, null
        case oneOf([String])

        var schema: String {
            switch self {
            case .object(let properties):
                let props = properties.map { "\"\($0.name)\":\($0.shape.schema)" }.joined(separator: ",")
                let required = properties.filter(\.required).map { "\"\($0.name)\"" }.joined(separator: ",")
                return #"{"type":"object","properties":{\#(props)},"required":[\#(required)],"additionalProperties":false}"#
            case .array(let item, let min, let max): return #"{"type":"array","items":\#(item.schema),"minItems":\#(min),"maxItems":\#(max)}"#
            case .string(let max): return #"{"type":"string","maxLength":\#(max)}"#
            case .integer: return #"{"type":"integer"}"#
            case .number: return #"{"type":"number"}"#
            case .boolean: return #"{"type":"boolean"}"#
            case .null: return #"{"type":"null"}"#
            case .oneOf(let values): return #"{"enum":[\#(values.map { "\"\($0)\"" }.joined(separator: ","))]}"#
            }
        }

        /// A random instance as JSON text, with random whitespace between parts.
        func instance(_ rng: inout SplitMix) -> String {
            func space() -> String { String(repeating: " ", count: rng.below(3)) }
            switch self {
            case .object(let properties):
                let chosen = properties.filter { $0.required || rng.below(2) == 0 }
                return "{" + space() + chosen.map { "\"\($0.name)\"" + space() + ":" + space() + $0.shape.instance(&rng) }
                    .joined(separator: space() + "," + space()) + space() + "}"
            case .array(let item, let min, let max):
                let count = min + rng.below(max - min + 1)
                return "[" + space() + (0..<count).map { _ in item.instance(&rng) }.joined(separator: "," + space()) + space() + "]"
            case .string(let max):
                let alphabet = Array("abcXYZ 09-_é\\\"/")
                var text = ""
                for _ in 0..<rng.below(max + 1) {
                    let c = alphabet[rng.below(alphabet.count)]
                    text += c == "\\" ? "\\\\" : c == "\"" ? "\\\"" : String(c)
                }
                return "\"" + text + "\""
            case .integer: return String(rng.below(2001) - 1000)
            case .number: return ["0.5", "-12", "3e4", "-0.25E-2", String(rng.below(100))][rng.below(5)]
            case .boolean: return rng.below(2) == 0 ? "true" : "false"
            case .null: return "null"
            case .oneOf(let values): return "\"" + values[rng.below(values.count)] + "\""
            }
        }

        /// Whether a parsed value fits the shape (what the schema means).
        func fits(_ v: Value) -> Bool {
            switch (self, v) {
            case (.object(let properties), .object(let o)):
                return o.keys.allSatisfy { key in properties.contains { $0.name == key } }
                    && properties.allSatisfy { p in o[p.name].map(p.shape.fits) ?? !p.required }
            case (.array(let item, let min, let max), .array(let a)): return (min...max).contains(a.count) && a.allSatisfy(item.fits)
            case (.string(let max), .string(let s)): return s.count <= max
            case (.integer, .int): return true
            case (.number, .int), (.number, .double): return true
            case (.boolean, .bool), (.null, .none): return true
            case (.oneOf(let values), .string(let s)): return values.contains(s)
            default: return false
            }
        }
    }

    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static let shapes: [Shape] = [
        .object([("city", .string(maxLength: 12), true), ("days", .integer, false), ("unit", .oneOf(["celsius", "fahrenheit"]), true)]),
        .object([("tags", .array(.string(maxLength: 5), min: 1, max: 3), true), ("score", .number, false), ("ok", .boolean, true),
                 ("note", .null, false)]),
        .array(.object([("id", .integer, true), ("child", .object([("name", .string(maxLength: 4), true)]), false)]), min: 0, max: 3),
    ]

    @Test(arguments: 0..<shapes.count) func randomInstancesAreAcceptedAndMutationsOnlyWhenTheyStillFit(index: Int) throws {
        let shape = Self.shapes[index]
        var g = Grammar()
        g.root = try JSONSchemaCompiler.compile(try Value(jsonText: shape.schema), into: &g, location: "schema")
        var rng = SplitMix(state: UInt64(index) + 1)
        var mutants = 0, rejected = 0
        let noise = Array(#"{}[]",:0a -"#.utf8)
        for _ in 0..<150 {
            let text = shape.instance(&rng)
            #expect(JSONSchemaGrammarTests.matches(g, text), "\(shape.schema) should accept \(text)")
            for _ in 0..<4 {
                var bytes = Array(text.utf8)
                let at = rng.below(bytes.count)
                switch rng.below(3) {
                case 0: bytes[at] = noise[rng.below(noise.count)]
                case 1: bytes.remove(at: at)
                default: bytes.insert(noise[rng.below(noise.count)], at: at)
                }
                guard bytes != Array(text.utf8) else { continue }
                mutants += 1
                let mutant = String(decoding: bytes, as: UTF8.self)
                guard JSONSchemaGrammarTests.matches(g, mutant) else { rejected += 1; continue }
                // Whatever the grammar takes is JSON that fits the schema.
                let parsed = try? Value(jsonText: mutant)
                #expect(parsed.map(shape.fits) == true, "\(shape.schema) accepted \(mutant)")
            }
        }
        #expect(rejected * 10 > mutants * 6, "only \(rejected) of \(mutants) mutations were rejected")
    }
}
