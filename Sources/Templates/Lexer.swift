/// Splits template source into text and tag tokens, applying whitespace control the way Hugging
/// Face renders chat templates: `{%-`/`-%}` and friends, plus `trim_blocks` (the newline after a block
/// tag is dropped) and `lstrip_blocks` (spaces before a block tag on its line are dropped).
struct Lexer {
    enum Piece: Equatable {
        case text(String)
        case expression([Token])
        case statement([Token])
    }

    enum Token: Equatable {
        case name(String)
        case string(String)
        case integer(Int)
        case float(Double)
        case op(String)
    }

    static func pieces(_ source: String) throws -> [Piece] {
        let s = Array(source.unicodeScalars)
        var out: [Piece] = []
        var text: [Unicode.Scalar] = []
        var i = 0
        var trimNextLeading = false  // `-%}` / `-}}`: strip whitespace at the start of the next text
        var afterBlock = false       // trim_blocks: drop one newline right after a block tag
        var startsLine = true        // whether the pending text begins at the start of a line

        func flushText(stripTrailing: Bool, lstripBlock: Bool) {
            var t = text
            if trimNextLeading { while let f = t.first, f.properties.isWhitespace { t.removeFirst() } }
            if afterBlock, let f = t.first, f == "\n" { t.removeFirst(); startsLine = true }
            if stripTrailing {
                while let l = t.last, l.properties.isWhitespace { t.removeLast() }
            } else if lstripBlock {
                // Remove spaces and tabs between the last newline (or start) and the tag.
                var j = t.count
                while j > 0, t[j - 1] == " " || t[j - 1] == "\t" { j -= 1 }
                if (j == 0 && startsLine) || (j > 0 && t[j - 1] == "\n") { t.removeSubrange(j...) }
            }
            if !t.isEmpty { out.append(.text(String(String.UnicodeScalarView(t)))) }
            text = []
            trimNextLeading = false
            afterBlock = false
            startsLine = false
        }

        while i < s.count {
            if s[i] == "{", i + 1 < s.count, s[i + 1] == "{" || s[i + 1] == "%" || s[i + 1] == "#" {
                let kind = s[i + 1]
                let close: Unicode.Scalar = kind == "{" ? "}" : kind == "%" ? "%" : "#"
                var j = i + 2
                let stripBefore = j < s.count && s[j] == "-"
                let keepBefore = j < s.count && s[j] == "+"
                if stripBefore || keepBefore { j += 1 }
                // Find the closing delimiter, skipping string literals inside tags.
                var k = j
                var quote: Unicode.Scalar?
                while k + 1 < s.count {
                    if let q = quote {
                        if s[k] == "\\" { k += 2; continue }
                        if s[k] == q { quote = nil }
                    } else if kind != "#" && (s[k] == "'" || s[k] == "\"") {
                        quote = s[k]
                    } else if s[k] == close && s[k + 1] == "}" {
                        break
                    }
                    k += 1
                }
                guard k + 1 < s.count else { throw TemplateError.syntax("unclosed tag starting at character \(i)") }
                var end = k
                let stripAfter = end > j && s[end - 1] == "-"
                if stripAfter || (end > j && s[end - 1] == "+") { end -= 1 }
                let inner = String(String.UnicodeScalarView(s[j..<end]))
                let isBlock = kind != "{"
                flushText(stripTrailing: stripBefore, lstripBlock: isBlock && !keepBefore)
                switch kind {
                case "{": out.append(.expression(try tokenize(inner)))
                case "%": out.append(.statement(try tokenize(inner)))
                default: break  // comment
                }
                trimNextLeading = stripAfter
                afterBlock = isBlock && !stripAfter
                i = k + 2
            } else {
                text.append(s[i])
                i += 1
            }
        }
        flushText(stripTrailing: false, lstripBlock: false)
        return out
    }

    static func tokenize(_ source: String) throws -> [Token] {
        let s = Array(source.unicodeScalars)
        var tokens: [Token] = []
        var i = 0
        let twoChar: Set<String> = ["==", "!=", "<=", ">=", "//", "**"]
        while i < s.count {
            let c = s[i]
            if c.properties.isWhitespace { i += 1; continue }
            if c == "'" || c == "\"" {
                var value = String.UnicodeScalarView()
                var j = i + 1
                while j < s.count && s[j] != c {
                    if s[j] == "\\", j + 1 < s.count {
                        j += 1
                        switch s[j] {
                        case "n": value.append("\n")
                        case "t": value.append("\t")
                        case "r": value.append("\r")
                        case "\\": value.append("\\")
                        case "'": value.append("'")
                        case "\"": value.append("\"")
                        default: value.append("\\"); value.append(s[j])
                        }
                    } else {
                        value.append(s[j])
                    }
                    j += 1
                }
                guard j < s.count else { throw TemplateError.syntax("unterminated string literal") }
                tokens.append(.string(String(value)))
                i = j + 1
            } else if c.properties.numericType != nil && c.isASCII {
                var j = i
                while j < s.count && (s[j].isASCII && s[j].properties.numericType != nil || s[j] == "_") { j += 1 }
                var isFloat = false
                if j + 1 < s.count && s[j] == "." && s[j + 1].isASCII && s[j + 1].properties.numericType != nil {
                    isFloat = true
                    j += 1
                    while j < s.count && s[j].isASCII && s[j].properties.numericType != nil { j += 1 }
                }
                let text = String(String.UnicodeScalarView(s[i..<j])).replacingUnderscores()
                tokens.append(isFloat ? .float(Double(text) ?? 0) : .integer(Int(text) ?? 0))
                i = j
            } else if c.properties.isAlphabetic || c == "_" {
                var j = i
                while j < s.count && (s[j].properties.isAlphabetic || s[j] == "_" || (s[j].isASCII && s[j].properties.numericType != nil)) { j += 1 }
                tokens.append(.name(String(String.UnicodeScalarView(s[i..<j]))))
                i = j
            } else {
                if i + 1 < s.count, twoChar.contains(String(c) + String(s[i + 1])) {
                    tokens.append(.op(String(c) + String(s[i + 1])))
                    i += 2
                } else {
                    guard "+-*/%~|.,:()[]{}=<>!".unicodeScalars.contains(c) else {
                        throw TemplateError.syntax("unexpected character '\(c)'")
                    }
                    tokens.append(.op(String(c)))
                    i += 1
                }
            }
        }
        return tokens
    }
}

private extension String {
    func replacingUnderscores() -> String { String(unicodeScalars.filter { $0 != "_" }) }
}

public enum TemplateError: Error, Equatable, CustomStringConvertible {
    case syntax(String)
    case runtime(String)
    /// `raise_exception(message)` from the template itself.
    case raised(String)
    case limit(String)

    /// The template failed while evaluating (not through its own `raise_exception`, and not a limit).
    public var isEvaluationFailure: Bool {
        if case .runtime = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .syntax(let m): return "template syntax error: \(m)"
        case .runtime(let m): return "template error: \(m)"
        case .raised(let m): return m
        case .limit(let m): return "template stopped: \(m)"
        }
    }
}
