/// The shortest bytes that finish a grammar from where a matcher stands: what a constrained
/// generation writes when its token budget is about to run out, so that its output still parses
/// and fits the schema (strings cut short, open objects and arrays closed, required members added
/// with their shortest values).
public struct GrammarCompletion: Sendable {
    let grammar: Grammar
    /// The shortest text each node matches on its own (nil: none found).
    let shortest: [[UInt8]?]

    public init(_ grammar: Grammar) {
        self.grammar = grammar
        let patterns = grammar.nodes.map { node -> [UInt8]? in
            guard case .pattern(let automaton, let minLength, let maxLength) = node else { return nil }
            return Self.patternText(automaton, from: automaton.start, count: 0, minLength: minLength, maxLength: maxLength)
        }
        // Shortest texts of nodes that refer to each other (recursive schemas, "any value"): improved
        // until nothing changes; every change shortens a text, so this ends.
        var shortest = [[UInt8]?](repeating: nil, count: grammar.nodes.count)
        var changed = true
        while changed {
            changed = false
            for (id, node) in grammar.nodes.enumerated() {
                guard let text = Self.shortest(node, pattern: patterns[id], known: shortest) else { continue }
                if text.count < shortest[id]?.count ?? .max {
                    shortest[id] = text
                    changed = true
                }
            }
        }
        self.shortest = shortest
    }

    /// The shortest bytes after which the matcher's grammar may end (nil when none is found, e.g.
    /// in the middle of a character).
    public func completion(of matcher: GrammarMatcher) -> [UInt8]? {
        var best: [UInt8]?
        for top in matcher.stacks {
            if let text = rest(from: top, in: matcher), text.count < best?.count ?? .max { best = text }
        }
        return best
    }

    private func rest(from top: Int32, in matcher: GrammarMatcher) -> [UInt8]? {
        guard top >= 0 else { return [] }
        let entry = matcher.arena[Int(top)]
        guard var out = finish(entry.frame) else { return nil }
        var t = entry.parent
        while t >= 0 {
            let parent = matcher.arena[Int(t)]
            if let frame = matcher.afterChild(parent.frame) {
                guard let more = finish(frame) else { return nil }
                out += more
            }
            t = parent.parent
        }
        return out
    }

    private static let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), colon = UInt8(ascii: ":")

    /// The bytes that finish the node of `f` from its progress.
    private func finish(_ f: GrammarMatcher.Frame) -> [UInt8]? {
        typealias M = GrammarMatcher
        switch grammar[f.node] {
        case .literal(let bytes):
            return Int(f.count) <= bytes.count ? Array(bytes[Int(f.count)...]) : nil
        case .string(let minLength, _):
            switch f.phase {
            case M.StringPhase.open: return shortest[Int(f.node)]
            case M.StringPhase.body: return f.pending > 0 ? nil : Self.padded(count: Int(f.count), to: minLength)
            case M.StringPhase.escape: return [UInt8(ascii: "n")] + Self.padded(count: Int(f.count) + 1, to: minLength)
            default: return [UInt8](repeating: UInt8(ascii: "0"), count: Int(f.pending)) + Self.padded(count: Int(f.count) + 1, to: minLength)
            }
        case .pattern(let automaton, let minLength, let maxLength):
            if f.phase == M.StringPhase.open { return shortest[Int(f.node)] }
            return Self.patternText(automaton, from: f.candidates, count: Int(f.count), minLength: minLength, maxLength: maxLength)
                .map { Array($0.dropFirst()) }
        case .number:
            return M.NumberPhase.accepting(f.phase) ? [] : [UInt8(ascii: "0")]
        case .object(let properties, let required, let additional):
            let tail = { (seen: UInt64) -> [UInt8]? in
                Self.members(properties, required & ~seen, leadingComma: true, known: self.shortest).map { $0 + [UInt8(ascii: "}")] }
            }
            switch f.phase {
            case M.ObjectPhase.open:
                return shortest[Int(f.node)]
            case M.ObjectPhase.beforeKey:
                let missing = required & ~f.seen
                if f.count == 0 || missing != 0 {
                    return Self.members(properties, missing, leadingComma: false, known: shortest).map { $0 + [UInt8(ascii: "}")] }
                }
                // After a comma: one more member, the cheapest there is.
                var options: [[UInt8]] = []
                let all = properties.isEmpty ? 0 : UInt64.max >> (64 - properties.count)
                let declared = cheapest(properties, all & ~f.seen)
                if additional == nil, declared != 0, let text = Self.members(properties, declared, leadingComma: false, known: shortest) {
                    options.append(text)
                }
                if let additional, let value = shortest[Int(additional)] { options.append([Self.quote, Self.quote, Self.colon] + value) }
                return options.min { $0.count < $1.count }.map { $0 + [UInt8(ascii: "}")] }
            case M.ObjectPhase.key:
                // Inside a declared key: finish the candidate that ends the object soonest.
                var best: [UInt8]?
                var candidates = f.candidates & ~f.seen
                while candidates != 0 {
                    let i = candidates.trailingZeroBitCount
                    candidates &= candidates - 1
                    let key = properties[i].key
                    guard Int(f.chosen) <= key.count, let value = shortest[Int(properties[i].value)],
                          let after = tail(f.seen | 1 << UInt64(i)) else { continue }
                    let text = Array(key[Int(f.chosen)...]) + [Self.quote, Self.colon] + value + after
                    if text.count < best?.count ?? .max { best = text }
                }
                return best
            case M.ObjectPhase.afterKey, M.ObjectPhase.value:
                guard let node = f.chosen >= 0 ? properties[Int(f.chosen)].value : additional, let value = shortest[Int(node)],
                      let after = tail(f.seen) else { return nil }
                return (f.phase == M.ObjectPhase.afterKey ? [Self.colon] : []) + value + after
            case M.ObjectPhase.afterValue:
                return tail(f.seen)
            default:
                return nil  // another key's string is on top of this frame
            }
        case .array(let item, let minItems, _):
            let itemText = shortest[Int(item)]
            let close = UInt8(ascii: "]")
            switch f.phase {
            case M.ArrayPhase.open: return shortest[Int(f.node)]
            case M.ArrayPhase.start: return Self.items(itemText, minItems, leadingComma: false).map { $0 + [close] }
            case M.ArrayPhase.afterComma: return Self.items(itemText, max(1, minItems - Int(f.count)), leadingComma: false).map { $0 + [close] }
            case M.ArrayPhase.afterItem: return Self.items(itemText, minItems - Int(f.count), leadingComma: true).map { $0 + [close] }
            default: return nil  // an item is on top of this frame
            }
        case .sequence(let elements):
            return Self.concatenated(elements[Int(f.count)...], known: shortest)
        case .choice:
            return nil  // never a frame
        }
    }

    /// The shortest text of a node from its parts' (`known`); a pattern's is found beforehand.
    private static func shortest(_ node: Grammar.Node, pattern: [UInt8]?, known: [[UInt8]?]) -> [UInt8]? {
        switch node {
        case .literal(let bytes):
            return bytes
        case .string(let minLength, let maxLength):
            return minLength <= maxLength ?? .max ? [quote] + padded(count: 0, to: minLength) : nil
        case .pattern:
            return pattern
        case .number:
            return [UInt8(ascii: "0")]
        case .object(let properties, let required, _):
            return members(properties, required, leadingComma: false, known: known).map { [UInt8(ascii: "{")] + $0 + [UInt8(ascii: "}")] }
        case .array(let item, let minItems, let maxItems):
            guard minItems <= maxItems ?? .max else { return nil }
            return items(known[Int(item)], minItems, leadingComma: false).map { [UInt8(ascii: "[")] + $0 + [UInt8(ascii: "]")] }
        case .sequence(let elements):
            return concatenated(elements[...], known: known)
        case .choice(let alternatives):
            return alternatives.compactMap { known[Int($0)] }.min { $0.count < $1.count }
        }
    }

    /// `"key":value` for each property in `which`, comma-separated.
    private static func members(_ properties: [Grammar.Property], _ which: UInt64, leadingComma: Bool, known: [[UInt8]?]) -> [UInt8]? {
        var out: [UInt8] = [], rest = which, first = !leadingComma
        while rest != 0 {
            let i = rest.trailingZeroBitCount
            rest &= rest - 1
            guard let value = known[Int(properties[i].value)] else { return nil }
            if !first { out.append(comma) }
            first = false
            out += [quote] + properties[i].key + [quote, colon] + value
        }
        return out
    }

    /// The texts of `nodes` one after another.
    private static func concatenated(_ nodes: ArraySlice<Grammar.NodeID>, known: [[UInt8]?]) -> [UInt8]? {
        var out: [UInt8] = []
        for node in nodes {
            guard let text = known[Int(node)] else { return nil }
            out += text
        }
        return out
    }

    /// `n` items of text `item`, comma-separated.
    private static func items(_ item: [UInt8]?, _ n: Int, leadingComma: Bool) -> [UInt8]? {
        guard n > 0 else { return [] }
        guard let item else { return nil }
        return (leadingComma ? [comma] : []) + Array([[UInt8]](repeating: item, count: n).joined(separator: [comma]))
    }

    /// The property among `which` whose member is shortest (0 when none has a text).
    private func cheapest(_ properties: [Grammar.Property], _ which: UInt64) -> UInt64 {
        var best: UInt64 = 0, bestCount = Int.max, rest = which
        while rest != 0 {
            let i = rest.trailingZeroBitCount
            rest &= rest - 1
            guard let value = shortest[Int(properties[i].value)], properties[i].key.count + value.count < bestCount else { continue }
            best = 1 << UInt64(i)
            bestCount = properties[i].key.count + value.count
        }
        return best
    }

    /// The rest of a string of `count` characters that must hold `minLength`: filler, then the quote.
    private static func padded(count: Int, to minLength: Int) -> [UInt8] {
        [UInt8](repeating: UInt8(ascii: "a"), count: max(0, minLength - count)) + [quote]
    }

    /// The shortest printable-ASCII text that takes the pattern's automaton from `states` (after
    /// `count` characters) to acceptance within the length limits, quoted: the opening quote, then
    /// the text and the closing quote. Breadth-first over state sets; nil when none is found.
    static func patternText(_ automaton: PatternAutomaton, from states: UInt64, count: Int, minLength: Int, maxLength: Int?) -> [UInt8]? {
        struct Step { var states: UInt64; var characters: Int; var byte: UInt8; var previous: Int }
        let alphabet = (UInt8(0x20)...UInt8(0x7E)).filter { $0 != quote && $0 != UInt8(ascii: "\\") }
        var steps = [Step(states: states, characters: count, byte: quote, previous: -1)]
        var seen: Set<[UInt64]> = [[states, UInt64(min(count, minLength))]]
        var next = 0
        while next < steps.count && steps.count < 4096 {
            let step = steps[next]
            if step.states & automaton.accepting != 0 && step.characters >= minLength {
                var text: [UInt8] = [quote]
                var i = next
                while steps[i].previous >= 0 { text.append(steps[i].byte); i = steps[i].previous }
                return [quote] + text.reversed()
            }
            if step.characters < maxLength ?? .max {
                for byte in alphabet {
                    let states = automaton.step(step.states, byte)
                    guard states != 0, seen.insert([states, UInt64(min(step.characters + 1, minLength))]).inserted else { continue }
                    steps.append(Step(states: states, characters: step.characters + 1, byte: byte, previous: next))
                }
            }
            next += 1
        }
        return nil
    }
}
