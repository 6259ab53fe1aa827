/// A JSON Schema `pattern` (ECMA-262 syntax, the simple part of it) as an automaton over the UTF-8
/// bytes of a string's value, small enough to keep its set of states in one 64-bit word: literals,
/// `.`, classes (`[a-z0-9_]`, `[^…]`, `\d \w \s` and their negations), groups with `|`, the
/// quantifiers `* + ? {n} {n,} {n,m}`, and `^`/`$` (without them the pattern may match anywhere in
/// the string, as JSON Schema says). Explicit non-ASCII characters, backreferences and lookaround are
/// refused. The value never holds `"`, `\` or control characters (they would need JSON escapes).
public struct PatternAutomaton: Sendable, Equatable {
    struct Transition: Sendable, Equatable {
        var low: UInt8
        var high: UInt8
        var target: Int
    }

    public static let maxStates = 64
    /// Each state's byte transitions.
    private(set) var transitions: [[Transition]] = []
    /// Each state with the states it reaches without a byte.
    private(set) var closures: [UInt64] = []
    public private(set) var start: UInt64 = 0
    public private(set) var accepting: UInt64 = 0

    /// The states after `byte` from `states` (0: the byte cannot come here).
    public func step(_ states: UInt64, _ byte: UInt8) -> UInt64 {
        var next: UInt64 = 0, rest = states
        while rest != 0 {
            let s = rest.trailingZeroBitCount
            rest &= rest - 1
            for t in transitions[s] where t.low <= byte && byte <= t.high { next |= closures[t.target] }
        }
        return next
    }

    public init(pattern: String) throws {
        var parser = PatternParser(Array(pattern.unicodeScalars))
        let (node, anchoredStart, anchoredEnd) = try parser.parse()
        var builder = Builder()
        let anything = PatternNode.repeated(.set(.anyCharacter), min: 0, max: nil)
        let whole = PatternNode.sequence((anchoredStart ? [] : [anything]) + [node] + (anchoredEnd ? [] : [anything]))
        let first = builder.state()
        let last = builder.build(whole, from: first)
        guard builder.transitions.count <= Self.maxStates else {
            throw SchemaError(message: "The pattern '\(pattern)' needs \(builder.transitions.count) automaton states; constrained decoding takes at most \(Self.maxStates).")
        }
        transitions = builder.transitions
        closures = builder.closures()
        start = closures[first]
        accepting = 1 << UInt64(last)
    }

    /// Thompson's construction: a fragment per node between a given state and the one returned.
    private struct Builder {
        var transitions: [[Transition]] = []
        var epsilons: [[Int]] = []

        mutating func state() -> Int {
            transitions.append([])
            epsilons.append([])
            return transitions.count - 1
        }

        mutating func build(_ node: PatternNode, from start: Int) -> Int {
            switch node {
            case .set(let set):
                let end = state()
                for range in set.ascii { transitions[start].append(Transition(low: range.lowerBound, high: range.upperBound, target: end)) }
                if set.nonASCII {
                    // Any whole character of 2, 3 or 4 bytes.
                    for (lead, continuations) in [(0xC2...0xDF, 1), (0xE0...0xEF, 2), (0xF0...0xF4, 3)] as [(ClosedRange<UInt8>, Int)] {
                        var current = state()
                        transitions[start].append(Transition(low: lead.lowerBound, high: lead.upperBound, target: current))
                        for i in 0..<continuations {
                            let next = i == continuations - 1 ? end : state()
                            transitions[current].append(Transition(low: 0x80, high: 0xBF, target: next))
                            current = next
                        }
                    }
                }
                return end
            case .sequence(let parts):
                return parts.reduce(start) { build($1, from: $0) }
            case .alternatives(let options):
                let end = state()
                for option in options { epsilons[build(option, from: start)].append(end) }
                return end
            case .repeated(let inner, let min, let max):
                var current = start
                for _ in 0..<min { current = build(inner, from: current) }
                guard let max else {
                    let loop = state()
                    epsilons[current].append(loop)
                    epsilons[build(inner, from: loop)].append(loop)
                    return loop
                }
                let end = state()
                epsilons[current].append(end)
                for _ in min..<max {
                    current = build(inner, from: current)
                    epsilons[current].append(end)
                }
                return end
            }
        }

        func closures() -> [UInt64] {
            epsilons.indices.map { s in
                var reached: UInt64 = 1 << UInt64(s), stack = [s]
                while let t = stack.popLast() {
                    for u in epsilons[t] where reached & (1 << UInt64(u)) == 0 {
                        reached |= 1 << UInt64(u)
                        stack.append(u)
                    }
                }
                return reached
            }
        }
    }
}

/// A parsed pattern.
indirect enum PatternNode {
    case set(CharacterSet)
    case sequence([PatternNode])
    case alternatives([PatternNode])
    case repeated(PatternNode, min: Int, max: Int?)

    /// Characters a position may hold: ASCII byte ranges, and whether any non-ASCII character.
    struct CharacterSet {
        var ascii: [ClosedRange<UInt8>]
        var nonASCII: Bool

        /// Printable ASCII other than `"` and `\` (the bytes a JSON string holds unescaped).
        static let allowed: [ClosedRange<UInt8>] = [0x20...0x21, 0x23...0x5B, 0x5D...0x7E]
        static let anyCharacter = CharacterSet(ascii: allowed, nonASCII: true)
        static let digits = CharacterSet(ascii: [0x30...0x39], nonASCII: false)
        static let word = CharacterSet(ascii: [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A], nonASCII: false)
        static let space = CharacterSet(ascii: [0x20...0x20], nonASCII: false)

        /// The allowed characters outside this set.
        var complement: CharacterSet {
            var bytes = [Bool](repeating: false, count: 128)
            for r in ascii { for b in r { bytes[Int(b)] = true } }
            var ranges: [ClosedRange<UInt8>] = []
            for r in Self.allowed {
                for b in r where !bytes[Int(b)] {
                    if let last = ranges.last, last.upperBound == b - 1 { ranges[ranges.count - 1] = last.lowerBound...b } else { ranges.append(b...b) }
                }
            }
            return CharacterSet(ascii: ranges, nonASCII: !nonASCII)
        }

        /// Only the bytes a JSON string holds unescaped.
        var allowedOnly: CharacterSet {
            CharacterSet(ascii: ascii.flatMap { r in Self.allowed.compactMap { a in
                let low = max(r.lowerBound, a.lowerBound), high = min(r.upperBound, a.upperBound)
                return low <= high ? low...high : nil
            } }, nonASCII: nonASCII)
        }
    }
}

/// Reads the pattern subset; anything else is a `SchemaError` naming it.
struct PatternParser {
    private let scalars: [Unicode.Scalar]
    private var i = 0
    /// Repetition bounds beyond this are refused (each repetition is a copy of the automaton).
    static let maxBound = 32

    init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

    private func fail(_ what: String) -> SchemaError {
        SchemaError(message: "The pattern '\(String(String.UnicodeScalarView(scalars)))' uses \(what), which constrained decoding does not support.")
    }

    mutating func parse() throws -> (PatternNode, anchoredStart: Bool, anchoredEnd: Bool) {
        let anchoredStart = scalars.first == "^"
        if anchoredStart { i = 1 }
        var end = scalars.count
        let anchoredEnd = end > i && scalars[end - 1] == "$" && (end < 2 || scalars[end - 2] != "\\")
        if anchoredEnd { end -= 1 }
        let node = try alternatives(until: end)
        guard i == end else { throw fail("an unmatched ')'") }
        return (node, anchoredStart, anchoredEnd)
    }

    private mutating func alternatives(until end: Int) throws -> PatternNode {
        var options = [try sequence(until: end)]
        while i < end && scalars[i] == "|" {
            i += 1
            options.append(try sequence(until: end))
        }
        return options.count == 1 ? options[0] : .alternatives(options)
    }

    private mutating func sequence(until end: Int) throws -> PatternNode {
        var parts: [PatternNode] = []
        while i < end && scalars[i] != "|" && scalars[i] != ")" {
            var atom = try self.atom(until: end)
            if let (min, max) = try quantifier(until: end) { atom = .repeated(atom, min: min, max: max) }
            parts.append(atom)
        }
        return parts.count == 1 ? parts[0] : .sequence(parts)
    }

    private mutating func atom(until end: Int) throws -> PatternNode {
        let c = scalars[i]
        i += 1
        switch c {
        case "(":
            if i < end && scalars[i] == "?" {
                guard i + 1 < end && scalars[i + 1] == ":" else { throw fail("lookaround or a named group") }
                i += 2
            }
            let inner = try alternatives(until: end)
            guard i < end && scalars[i] == ")" else { throw fail("an unclosed '('") }
            i += 1
            return inner
        case "[": return .set(try characterClass(until: end))
        case ".": return .set(PatternNode.CharacterSet(ascii: PatternNode.CharacterSet.allowed, nonASCII: true))
        case "\\": return .set(try escape(until: end))
        case "^", "$": throw fail("'\(c)' inside the pattern")
        case "*", "+", "?", "{": throw fail("a quantifier with nothing before it")
        default: return .set(try literal(c))
        }
    }

    private func literal(_ c: Unicode.Scalar) throws -> PatternNode.CharacterSet {
        guard c.isASCII else { throw fail("the non-ASCII character '\(c)'") }
        return PatternNode.CharacterSet(ascii: [UInt8(c.value)...UInt8(c.value)], nonASCII: false).allowedOnly
    }

    private mutating func escape(until end: Int) throws -> PatternNode.CharacterSet {
        guard i < end else { throw fail("a trailing '\\'") }
        let c = scalars[i]
        i += 1
        switch c {
        case "d": return .digits
        case "D": return PatternNode.CharacterSet.digits.complement
        case "w": return .word
        case "W": return PatternNode.CharacterSet.word.complement
        case "s": return .space
        case "S": return PatternNode.CharacterSet.space.complement
        default:
            guard c.isASCII, !(c.properties.isAlphabetic || ("0"..."9").contains(c)) else { throw fail("the escape '\\\(c)'") }
            return try literal(c)
        }
    }

    private mutating func characterClass(until end: Int) throws -> PatternNode.CharacterSet {
        var negated = false
        if i < end && scalars[i] == "^" { negated = true; i += 1 }
        var set = PatternNode.CharacterSet(ascii: [], nonASCII: false)
        var first = true
        while i < end && (scalars[i] != "]" || first) {
            first = false
            var low: PatternNode.CharacterSet
            if scalars[i] == "\\" {
                i += 1
                low = try escape(until: end)
            } else {
                low = try literal(scalars[i])
                i += 1
            }
            if i + 1 < end && scalars[i] == "-" && scalars[i + 1] != "]", low.ascii.count == 1, low.ascii[0].count == 1 {
                i += 1
                guard scalars[i] != "\\" else { throw fail("a range ending in an escape") }
                let high = try literal(scalars[i])
                i += 1
                guard let h = high.ascii.first?.lowerBound, h >= low.ascii[0].lowerBound else { throw fail("a reversed range") }
                low = PatternNode.CharacterSet(ascii: [low.ascii[0].lowerBound...h], nonASCII: false).allowedOnly
            }
            set.ascii += low.ascii
            set.nonASCII = set.nonASCII || low.nonASCII
        }
        guard i < end else { throw fail("an unclosed '['") }
        i += 1
        return negated ? set.complement : set
    }

    private mutating func quantifier(until end: Int) throws -> (Int, Int?)? {
        guard i < end else { return nil }
        var bounds: (Int, Int?)
        switch scalars[i] {
        case "*": bounds = (0, nil); i += 1
        case "+": bounds = (1, nil); i += 1
        case "?": bounds = (0, 1); i += 1
        case "{":
            guard let close = scalars[i..<end].firstIndex(of: "}") else { throw fail("an unclosed '{'") }
            let text = String(String.UnicodeScalarView(scalars[(i + 1)..<close]))
            let parts = text.split(separator: ",", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), let min = Int(parts[0]), min >= 0, min <= Self.maxBound else { throw fail("the quantifier '{\(text)}'") }
            if parts.count == 1 { bounds = (min, min) }
            else if parts[1].isEmpty { bounds = (min, nil) }
            else {
                guard let max = Int(parts[1]), max >= min, max <= Self.maxBound else { throw fail("the quantifier '{\(text)}'") }
                bounds = (min, max)
            }
            i = close + 1
        default: return nil
        }
        if i < end && scalars[i] == "?" { i += 1 }  // lazy or greedy: the same language
        return bounds
    }
}
