/// Splits text into the words that byte-level BPE merges within, following the regular
/// expressions each model family's tokenizer declares (`tokenizer.ggml.pre`), with the same
/// leftmost-first alternation semantics llama.cpp gets from its regex engine. Each pattern is a
/// hand-written scanner over code point classes: linear, allocation-light, no backtracking engine.
public struct PreTokenizer: Sendable {
    /// One regular expression of a pre-tokenizer. Matches become words, and the text between
    /// matches becomes words of its own.
    enum Pattern: Sendable {
        /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)` (GPT-2).
        case gpt2
        /// `(?i:'s|…|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
        /// (Llama 3 with 3 digits, Qwen2 with 1).
        case llama3(maxDigits: Int)
        /// Tekken (Mistral Nemo): case-aware words, single digits, and `/` may end a punctuation run.
        /// GPT-4o's (gpt-oss, Llama 4) is the same with up to 3 digits and a contraction after a word.
        case tekken(maxDigits: Int, contractions: Bool)
        /// `\p{N}`: every digit alone.
        case eachDigit
        /// `\p{N}+`.
        case digitRuns
        /// `[0-9][0-9][0-9]`.
        case asciiDigitTriples
        /// `[\p{P}\$\+<=>\^~\|]+`.
        case punctuationRuns
    }

    let patterns: [Pattern]

    /// The pre-tokenizer for a `tokenizer.ggml.pre` name; nil when Wick does not know it.
    public init?(name: String) {
        switch name {
        case "default", "":
            patterns = [.punctuationRuns, .gpt2, .digitRuns, .asciiDigitTriples]
        case "gpt-2", "phi-2", "mpt", "olmo", "jina-es", "jina-de", "jina-v2-es", "jina-v2-de", "exaone4", "modern-bert":
            patterns = [.gpt2]
        case "starcoder", "smollm", "refact", "command-r", "codeshell", "exaone", "minerva-7b":
            patterns = [.eachDigit, .gpt2]
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral", "dbrx", "smaug-bpe", "chatglm-bpe", "glm4", "lfm2":
            patterns = [.llama3(maxDigits: 3)]
        case "qwen2", "deepseek-r1-qwen", "stablelm2", "megrez", "hunyuan":
            patterns = [.llama3(maxDigits: 1)]
        case "tekken":
            patterns = [.tekken(maxDigits: 1, contractions: false)]
        case "gpt-4o", "llama4", "kanana2", "talkie":
            patterns = [.tekken(maxDigits: 3, contractions: true)]
        default:
            return nil
        }
    }

    /// The words of `cps`, as lengths in code points that add up to `cps.count`.
    func split(_ cps: [UInt32]) -> [Range<Int>] {
        let classes = cps.map(CodepointClass.of)
        var pieces: [Range<Int>] = cps.isEmpty ? [] : [0..<cps.count]
        var next: [Range<Int>] = []
        cps.withUnsafeBufferPointer { cp in
            classes.withUnsafeBufferPointer { cl in
                for pattern in patterns {
                    next.removeAll(keepingCapacity: true)
                    for piece in pieces {
                        let scanner = Scanner(cp: cp, cl: cl, end: piece.upperBound)
                        var gapStart = piece.lowerBound
                        var pos = piece.lowerBound
                        while pos < piece.upperBound {
                            if let end = scanner.match(pattern, at: pos), end > pos {
                                if gapStart < pos { next.append(gapStart..<pos) }
                                next.append(pos..<end)
                                pos = end
                                gapStart = end
                            } else {
                                pos += 1
                            }
                        }
                        if gapStart < piece.upperBound { next.append(gapStart..<piece.upperBound) }
                    }
                    swap(&pieces, &next)
                }
            }
        }
        return pieces
    }
}

/// Matches one pattern at one position inside a piece that ends at `end`.
private struct Scanner {
    let cp: UnsafeBufferPointer<UInt32>
    let cl: UnsafeBufferPointer<CodepointClass>
    let end: Int

    @inline(__always) func has(_ i: Int, _ c: CodepointClass) -> Bool { i < end && cl[i].contains(c) }
    @inline(__always) func isNewline(_ i: Int) -> Bool { i < end && (cp[i] == 0x0A || cp[i] == 0x0D) }
    @inline(__always) func isSpace(_ i: Int) -> Bool { i < end && cp[i] == 0x20 }
    /// `[^\s\p{L}\p{N}]`
    @inline(__always) func isSymbol(_ i: Int) -> Bool { i < end && cl[i].isDisjoint(with: [.whitespace, .letter, .number]) }
    /// `[^\r\n\p{L}\p{N}]`
    @inline(__always) func isLead(_ i: Int) -> Bool { i < end && !isNewline(i) && cl[i].isDisjoint(with: [.letter, .number]) }

    func run(from i: Int, while ok: (Int) -> Bool) -> Int {
        var j = i
        while j < end && ok(j) { j += 1 }
        return j
    }

    func match(_ pattern: PreTokenizer.Pattern, at p: Int) -> Int? {
        switch pattern {
        case .gpt2: return gpt2(p)
        case .llama3(let maxDigits): return llama3(p, maxDigits: maxDigits)
        case .tekken(let maxDigits, let contractions): return tekken(p, maxDigits: maxDigits, contractions: contractions)
        case .eachDigit: return has(p, .number) ? p + 1 : nil
        case .digitRuns: return has(p, .number) ? run(from: p) { has($0, .number) } : nil
        case .asciiDigitTriples:
            let isDigit = { (i: Int) in i < end && cp[i] >= 0x30 && cp[i] <= 0x39 }
            return isDigit(p) && isDigit(p + 1) && isDigit(p + 2) ? p + 3 : nil
        case .punctuationRuns:
            let isPunct = { (i: Int) -> Bool in
                guard i < end else { return false }
                switch cp[i] {
                case 0x24, 0x2B, 0x3C, 0x3D, 0x3E, 0x5E, 0x7E, 0x7C: return true  // $ + < = > ^ ~ |
                default: return cl[i].contains(.punctuation)
                }
            }
            return isPunct(p) ? run(from: p, while: isPunct) : nil
        }
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d`, case-insensitively when asked.
    func contraction(_ p: Int, ignoreCase: Bool) -> Int? {
        guard p + 1 < end, cp[p] == 0x27 else { return nil }
        func lower(_ i: Int) -> UInt32 {
            let c = cp[i]
            return ignoreCase && c >= 0x41 && c <= 0x5A ? c + 32 : c
        }
        switch lower(p + 1) {
        case 0x73, 0x74, 0x6D, 0x64: return p + 2  // s t m d
        default: break
        }
        guard p + 2 < end else { return nil }
        switch (lower(p + 1), lower(p + 2)) {
        case (0x72, 0x65), (0x76, 0x65), (0x6C, 0x6C): return p + 3  // re ve ll
        default: return nil
        }
    }

    /// `\s+(?!\S)` then `\s+`: a run of white space gives back its last character when
    /// something other than white space follows, so that character can lead the next word.
    func trailingWhitespace(_ p: Int, allowSingle: Bool) -> Int? {
        let n = run(from: p) { has($0, .whitespace) } - p
        guard n > 0 else { return nil }
        if p + n < end {
            if n > 1 { return p + n - 1 }
            return allowSingle ? p + 1 : nil
        }
        return p + n
    }

    /// `\s*[\r\n]+`: white space up to and including its last line break.
    func whitespaceThroughNewline(_ p: Int) -> Int? {
        var last: Int?
        var i = p
        while has(i, .whitespace) {
            if isNewline(i) { last = i + 1 }
            i += 1
        }
        return last
    }

    func gpt2(_ p: Int) -> Int? {
        if let e = contraction(p, ignoreCase: false) { return e }
        let q = isSpace(p) ? p + 1 : p
        if has(q, .letter) { return run(from: q) { has($0, .letter) } }
        if has(q, .number) { return run(from: q) { has($0, .number) } }
        if isSymbol(q) { return run(from: q, while: isSymbol) }
        return trailingWhitespace(p, allowSingle: false)
    }

    func llama3(_ p: Int, maxDigits: Int) -> Int? {
        if let e = contraction(p, ignoreCase: true) { return e }
        if has(p, .letter) { return run(from: p) { has($0, .letter) } }
        if isLead(p) && has(p + 1, .letter) { return run(from: p + 1) { has($0, .letter) } }
        if has(p, .number) { return min(run(from: p) { has($0, .number) }, p + maxDigits) }
        if let e = symbolRun(p, trailing: isNewline) { return e }
        if let e = whitespaceThroughNewline(p) { return e }
        return trailingWhitespace(p, allowSingle: true)
    }

    /// ` ?[^\s\p{L}\p{N}]+` followed by any number of characters accepted by `trailing`.
    func symbolRun(_ p: Int, trailing: (Int) -> Bool) -> Int? {
        let q = isSpace(p) ? p + 1 : p
        guard isSymbol(q) else { return nil }
        let e = run(from: q, while: isSymbol)
        return run(from: e, while: trailing)
    }

    /// Tekken's words: `lead? U* L+ | lead? U+ L*`, where U is a letter other than a–z and L a
    /// letter other than A–Z (non-ASCII letters are both). Resolved as a backtracking engine
    /// would: prefer the longest U* that still leaves an L. With `contractions`, a word may end in
    /// `'s|'t|'re|'ve|'m|'ll|'d` (any case).
    func tekken(_ p: Int, maxDigits: Int, contractions: Bool) -> Int? {
        let start = isLead(p) && has(p + 1, .letter) ? p + 1 : p
        if has(start, .letter) {
            let isU = { (i: Int) in self.has(i, .letter) && !self.cl[i].contains(.asciiLower) }
            let isL = { (i: Int) in self.has(i, .letter) && !self.cl[i].contains(.asciiUpper) }
            let u = run(from: start, while: isU)
            let word: Int
            if has(u, .asciiLower) {
                word = run(from: u, while: isL)
            } else {
                // Back off to the last letter in the U run that can also count as L.
                var k = u - 1
                while k >= start && !isL(k) { k -= 1 }
                word = k >= start ? k + 1 : u
            }
            return contractions ? contraction(word, ignoreCase: true) ?? word : word
        }
        if has(p, .number) { return min(run(from: p) { has($0, .number) }, p + maxDigits) }
        if let e = symbolRun(p, trailing: { self.isNewline($0) || ($0 < self.end && self.cp[$0] == 0x2F) }) { return e }
        if let e = whitespaceThroughNewline(p) { return e }
        return trailingWhitespace(p, allowSingle: true)
    }
}
