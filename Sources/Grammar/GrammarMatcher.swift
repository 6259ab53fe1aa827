/// Where the matching of a grammar stands after some bytes, as a set of stacks of frames (several
/// while the alternatives of a choice are all still possible). Stacks are chains of entries in an
/// arena that they share and never change: a byte adds an entry or two, so trying every token of a
/// vocabulary from the same state copies nothing.
public struct GrammarMatcher: Sendable {
    /// One node's progress. Which fields mean what depends on the node (see `feed`).
    struct Frame: Sendable {
        var node: Grammar.NodeID
        var phase: UInt8 = 0
        /// Whitespace bytes in a row (objects and arrays).
        var spaces: UInt8 = 0
        /// UTF-8 continuation bytes or `\u` hex digits still due (strings).
        var pending: UInt8 = 0
        /// Characters (strings), digits (numbers), members (objects), items (arrays), bytes
        /// (literals), elements done (sequences).
        var count: Int32 = 0
        /// Objects: the property whose value comes next (−1: another key), or the key bytes matched so far.
        var chosen: Int32 = -1
        /// Objects: declared properties present, and the ones the key being read may still be.
        var seen: UInt64 = 0
        var candidates: UInt64 = 0
    }

    struct Entry: Sendable {
        var frame: Frame
        /// The entry below (−1: none).
        var parent: Int32
        var depth: Int32
    }

    /// A stack top meaning: the whole grammar matched.
    static let complete: Int32 = -1
    /// Nesting deeper than this is refused (an "any value" could nest forever).
    static let maxDepth: Int32 = 64
    /// Whitespace bytes in a row between an object's or array's parts.
    static let maxSpaces: UInt8 = 20
    /// Digits in a number (so a number cannot run on forever).
    static let maxDigits: Int32 = 20
    /// Stacks kept at most (alternatives that stay open for long).
    static let maxStacks = 32

    public let grammar: Grammar
    var arena: [Entry] = []
    /// The tops of the stacks still possible (`complete` once the grammar matched).
    var stacks: [Int32] = []
    /// Working memory of `allowedTokens`, kept between calls.
    var walkStacks: [Int32] = []

    public init(_ grammar: Grammar) {
        self.grammar = grammar
        arena.reserveCapacity(1024)
        var start: [Int32] = []
        enter(grammar.root, parent: Self.complete, byte: nil, into: &start)
        stacks = start
    }

    /// Whether the grammar may end here (so an end-of-generation token is allowed).
    public var canEnd: Bool { stacks.contains { canEnd($0) } }

    /// Whether no more bytes can follow (the grammar matched completely on every path).
    public var isDone: Bool { stacks.allSatisfy { $0 == Self.complete } }

    /// Advances over `bytes`; false (and no change) when the grammar does not allow them.
    @discardableResult public mutating func accept<Bytes: Collection>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        var current = stacks, next: [Int32] = []
        let mark = arena.count
        for byte in bytes {
            next.removeAll(keepingCapacity: true)
            for top in current { feed(top, byte, into: &next) }
            guard !next.isEmpty else {
                arena.removeLast(arena.count - mark)
                return false
            }
            Self.dedupe(&next)
            swap(&current, &next)
        }
        stacks = current
        return true
    }

    static func dedupe(_ tops: inout [Int32]) {
        if tops.count > 1, tops.contains(complete) {
            tops.removeAll { $0 == complete }
            tops.append(complete)
        }
        if tops.count > maxStacks { tops.removeLast(tops.count - maxStacks) }
    }

    // MARK: - Stepping

    private static let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")

    private mutating func make(_ frame: Frame, parent: Int32) -> Int32? {
        let depth = parent >= 0 ? arena[Int(parent)].depth + 1 : 0
        guard depth <= Self.maxDepth else { return nil }
        arena.append(Entry(frame: frame, parent: parent, depth: depth))
        return Int32(arena.count - 1)
    }

    /// Replaces the top entry's frame (same parent).
    private mutating func replace(_ top: Int32, with frame: Frame) -> Int32 {
        let entry = arena[Int(top)]
        arena.append(Entry(frame: frame, parent: entry.parent, depth: entry.depth))
        return Int32(arena.count - 1)
    }

    /// Starts `node` above `parent` (a choice starts each alternative) and feeds it `byte` if given.
    mutating func enter(_ node: Grammar.NodeID, parent: Int32, byte: UInt8?, into out: inout [Int32]) {
        if case .choice(let alternatives) = grammar[node] {
            for alternative in alternatives { enter(alternative, parent: parent, byte: byte, into: &out) }
            return
        }
        guard let top = make(Frame(node: node), parent: parent) else { return }
        if let byte { feed(top, byte, into: &out) } else { out.append(top) }
    }

    /// The stack after the node on top of `parent` completed: its parent moves on (and may complete too).
    private mutating func completed(_ parent: Int32) -> Int32 {
        guard parent >= 0 else { return Self.complete }
        guard let f = afterChild(arena[Int(parent)].frame) else { return completed(arena[Int(parent)].parent) }
        return replace(parent, with: f)
    }

    /// A node's frame once the child it holds completed; nil when that completes the node too (a
    /// sequence's last element).
    func afterChild(_ frame: Frame) -> Frame? {
        var f = frame
        switch grammar[f.node] {
        case .object:
            if f.phase == ObjectPhase.value { f.phase = ObjectPhase.afterValue; f.count += 1 }
            else { f.phase = ObjectPhase.afterKey; f.chosen = -1 }  // another key's string ended
            f.spaces = 0
        case .array:
            f.phase = ArrayPhase.afterItem
            f.count += 1
            f.spaces = 0
        case .sequence(let elements):
            f.count += 1
            if Int(f.count) == elements.count { return nil }
        default:
            preconditionFailure("only objects, arrays and sequences hold other nodes")
        }
        return f
    }

    /// Whether the stack can end without more bytes: it matched, or only a number that may stop
    /// here stands between it and the end.
    private func canEnd(_ top: Int32) -> Bool {
        var t = top
        if t >= 0 {
            let f = arena[Int(t)].frame
            guard case .number = grammar[f.node], NumberPhase.accepting(f.phase) else { return false }
            t = arena[Int(t)].parent
        }
        while t >= 0 {
            let f = arena[Int(t)].frame
            guard case .sequence(let elements) = grammar[f.node], Int(f.count) + 1 == elements.count else { return false }
            t = arena[Int(t)].parent
        }
        return true
    }

    enum StringPhase { static let open: UInt8 = 0, body: UInt8 = 1, escape: UInt8 = 2, hex: UInt8 = 3 }
    enum ObjectPhase {
        static let open: UInt8 = 0, beforeKey: UInt8 = 1, key: UInt8 = 2, afterKey: UInt8 = 3
        static let value: UInt8 = 4, afterValue: UInt8 = 5, otherKey: UInt8 = 6
    }
    enum ArrayPhase { static let open: UInt8 = 0, start: UInt8 = 1, afterComma: UInt8 = 2, afterItem: UInt8 = 3, item: UInt8 = 4 }
    /// A number: 0 start, 1 after `-`, 2 after a leading 0, 3 in the integer part, 4 after `.`,
    /// 5 in the fraction, 6 after `e`, 7 after the exponent's sign, 8 in the exponent.
    enum NumberPhase {
        static func accepting(_ phase: UInt8) -> Bool { phase == 2 || phase == 3 || phase == 5 || phase == 8 }
    }

    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D }

    /// Feeds `byte` to the stack whose top is `top` and appends the tops of the stacks that result.
    mutating func feed(_ top: Int32, _ byte: UInt8, into out: inout [Int32]) {
        guard top >= 0 else { return }  // the grammar matched: nothing may follow
        var f = arena[Int(top)].frame
        let parent = arena[Int(top)].parent
        switch grammar[f.node] {
        case .literal(let bytes):
            guard Int(f.count) < bytes.count, bytes[Int(f.count)] == byte else { return }
            f.count += 1
            out.append(Int(f.count) == bytes.count ? completed(parent) : replace(top, with: f))

        case .string(let minLength, let maxLength):
            switch f.phase {
            case StringPhase.open:
                guard byte == Self.quote else { return }
                f.phase = StringPhase.body
            case StringPhase.body:
                if f.pending > 0 {
                    guard byte & 0xC0 == 0x80 else { return }
                    f.pending -= 1
                    break
                }
                if byte == Self.quote {
                    guard Int(f.count) >= minLength else { return }
                    out.append(completed(parent))
                    return
                }
                if let maxLength, Int(f.count) >= maxLength { return }
                switch byte {
                case Self.backslash: f.phase = StringPhase.escape
                case 0..<0x20: return
                case 0x20..<0x80: f.count += 1
                case 0xC2...0xDF: f.pending = 1; f.count += 1
                case 0xE0...0xEF: f.pending = 2; f.count += 1
                case 0xF0...0xF4: f.pending = 3; f.count += 1
                default: return
                }
            case StringPhase.escape:
                switch byte {
                case UInt8(ascii: "u"): f.phase = StringPhase.hex; f.pending = 4
                case Self.quote, Self.backslash, UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                     UInt8(ascii: "r"), UInt8(ascii: "t"):
                    f.phase = StringPhase.body; f.count += 1
                default: return
                }
            default:
                guard (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte) else { return }
                f.pending -= 1
                if f.pending == 0 { f.phase = StringPhase.body; f.count += 1 }
            }
            out.append(replace(top, with: f))

        case .pattern(let automaton, let minLength, let maxLength):
            if f.phase == StringPhase.open {
                guard byte == Self.quote else { return }
                f.phase = StringPhase.body
                f.candidates = automaton.start
            } else if byte == Self.quote {
                guard f.candidates & automaton.accepting != 0, Int(f.count) >= minLength else { return }
                out.append(completed(parent))
                return
            } else {
                guard byte >= 0x20, byte != Self.backslash else { return }
                if byte & 0xC0 != 0x80 {  // a character's first byte
                    if let maxLength, Int(f.count) >= maxLength { return }
                    f.count += 1
                }
                f.candidates = automaton.step(f.candidates, byte)
                guard f.candidates != 0 else { return }
            }
            out.append(replace(top, with: f))

        case .number(let integer):
            let digit = (0x30...0x39).contains(byte), exponent = byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
            var next: UInt8?
            switch f.phase {
            case 0: next = byte == UInt8(ascii: "-") ? 1 : byte == UInt8(ascii: "0") ? 2 : digit ? 3 : nil
            case 1: next = byte == UInt8(ascii: "0") ? 2 : digit ? 3 : nil
            case 2: next = integer ? nil : byte == UInt8(ascii: ".") ? 4 : exponent ? 6 : nil
            case 3: next = digit ? 3 : integer ? nil : byte == UInt8(ascii: ".") ? 4 : exponent ? 6 : nil
            case 4: next = digit ? 5 : nil
            case 5: next = digit ? 5 : exponent ? 6 : nil
            case 6: next = byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") ? 7 : digit ? 8 : nil
            default: next = digit ? 8 : nil
            }
            if let next {
                if digit {
                    guard f.count < Self.maxDigits else { return }
                    f.count += 1
                }
                f.phase = next
                out.append(replace(top, with: f))
            } else if NumberPhase.accepting(f.phase) {
                // The number ended before this byte, which belongs to what follows it.
                feed(completed(parent), byte, into: &out)
            }

        case .object(let properties, let required, let additional):
            let space = Self.isSpace(byte)
            if space && f.phase != ObjectPhase.open && f.phase != ObjectPhase.key {
                guard f.spaces < Self.maxSpaces else { return }
                f.spaces += 1
                out.append(replace(top, with: f))
                return
            }
            f.spaces = 0
            let all = properties.isEmpty ? 0 : UInt64.max >> (64 - properties.count), remaining = all & ~f.seen
            switch f.phase {
            case ObjectPhase.open:
                guard byte == UInt8(ascii: "{") else { return }
                f.phase = ObjectPhase.beforeKey
                out.append(replace(top, with: f))
            case ObjectPhase.beforeKey:
                if byte == UInt8(ascii: "}") {
                    guard f.count == 0, required & ~f.seen == 0 else { return }
                    out.append(completed(parent))
                    return
                }
                guard byte == Self.quote else { return }
                // A declared key is matched byte by byte against the keys it may still be (all of
                // them when other keys are allowed too, so that another key is never a declared one).
                let candidates = additional == nil ? remaining : all
                if candidates == 0 {
                    f.phase = ObjectPhase.otherKey
                    enter(Grammar.anyString, parent: replace(top, with: f), byte: byte, into: &out)
                    return
                }
                f.phase = ObjectPhase.key
                f.candidates = candidates
                f.chosen = 0
                out.append(replace(top, with: f))
            case ObjectPhase.key:
                let offset = Int(f.chosen)
                var candidates = f.candidates, continuing: UInt64 = 0, ending: UInt64 = 0
                while candidates != 0 {
                    let i = candidates.trailingZeroBitCount
                    candidates &= candidates - 1
                    let key = properties[i].key
                    if key.count > offset && key[offset] == byte { continuing |= 1 << i }
                    if key.count == offset && byte == Self.quote { ending |= 1 << i }
                }
                if continuing != 0 {
                    var next = f
                    next.candidates = continuing
                    next.chosen += 1
                    out.append(replace(top, with: next))
                }
                if ending & ~f.seen != 0 {
                    f.chosen = Int32(ending.trailingZeroBitCount)
                    f.seen |= ending
                    f.phase = ObjectPhase.afterKey
                    out.append(replace(top, with: f))
                } else if ending == 0 && continuing == 0 && additional != nil {
                    // Another key, which left the declared ones here: read as a string from its start.
                    let key = properties[f.candidates.trailingZeroBitCount].key
                    f.phase = ObjectPhase.otherKey
                    var tops: [Int32] = []
                    enter(Grammar.anyString, parent: replace(top, with: f), byte: Self.quote, into: &tops)
                    for byte in key[..<offset] + [byte] {
                        var next: [Int32] = []
                        for t in tops { feed(t, byte, into: &next) }
                        tops = next
                    }
                    out += tops
                }
            case ObjectPhase.afterKey:
                guard byte == UInt8(ascii: ":") else { return }
                f.phase = ObjectPhase.value
                out.append(replace(top, with: f))
            case ObjectPhase.value:
                guard let value = f.chosen >= 0 ? properties[Int(f.chosen)].value : additional else { return }
                enter(value, parent: replace(top, with: f), byte: byte, into: &out)
            default:  // after a value
                if byte == UInt8(ascii: ",") {
                    guard remaining != 0 || additional != nil else { return }
                    f.phase = ObjectPhase.beforeKey
                    out.append(replace(top, with: f))
                } else if byte == UInt8(ascii: "}") {
                    guard required & ~f.seen == 0 else { return }
                    out.append(completed(parent))
                }
            }

        case .array(let item, let minItems, let maxItems):
            if Self.isSpace(byte) && f.phase != ArrayPhase.open {
                guard f.spaces < Self.maxSpaces else { return }
                f.spaces += 1
                out.append(replace(top, with: f))
                return
            }
            f.spaces = 0
            switch f.phase {
            case ArrayPhase.open:
                guard byte == UInt8(ascii: "[") else { return }
                f.phase = ArrayPhase.start
                out.append(replace(top, with: f))
            case ArrayPhase.start where byte == UInt8(ascii: "]"):
                guard minItems == 0 else { return }
                out.append(completed(parent))
            case ArrayPhase.start, ArrayPhase.afterComma:
                if let maxItems, Int(f.count) >= maxItems { return }
                f.phase = ArrayPhase.item
                enter(item, parent: replace(top, with: f), byte: byte, into: &out)
            default:  // after an item
                if byte == UInt8(ascii: ",") {
                    if let maxItems, Int(f.count) >= maxItems { return }
                    f.phase = ArrayPhase.afterComma
                    out.append(replace(top, with: f))
                } else if byte == UInt8(ascii: "]") {
                    guard Int(f.count) >= minItems else { return }
                    out.append(completed(parent))
                }
            }

        case .sequence(let elements):
            enter(elements[Int(f.count)], parent: top, byte: byte, into: &out)

        case .choice:
            preconditionFailure("choices are entered as their alternatives")
        }
    }
}
