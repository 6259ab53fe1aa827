import Grammar
import Tokenizers

/// Holds generation to a grammar: every token whose bytes the grammar does not take next is
/// masked out, and end-of-generation tokens are allowed only where the grammar may end. With a
/// `trigger` it waits, unconstrained, until the generated text contains the trigger (a tool call's
/// opening tag) and from then holds the rest to the grammar, which begins with the trigger.
/// With a token `budget`, the reply is closed in time: once the shortest ending the grammar allows
/// needs about all the tokens left, only the tokens that spell that ending are allowed, so a
/// constrained reply that would run past its limit still ends valid (cut short, and reported so).
public struct GrammarConstraint: LogitsProcessor {
    private var matcher: GrammarMatcher
    private let vocabulary: GrammarVocabulary
    private var mask: TokenMask
    private var closingMask: TokenMask
    private let completion: GrammarCompletion
    /// Tokens the reply may hold in all (nil: no limit to close within).
    public var budget: Int?
    /// Tokens chosen so far.
    private var generated = 0
    /// The budget ran short and the reply is being closed.
    public private(set) var isClosing = false
    /// Tokens left over, besides the ending's and the end of generation, when closing begins: one
    /// token can open more than it writes (`{"` asks for `":0}` more), so closing starts a little early.
    static let closingMargin = 8
    private let trigger: [UInt8]?
    /// Bytes generated while waiting for the trigger.
    private var waiting: [UInt8] = []
    public private(set) var isActive: Bool
    /// The trigger appeared in a form the grammar refused (the rest stays unconstrained).
    private var gaveUp = false

    /// `prefix`: bytes already in the reply that the grammar must begin with (a forced start).
    public init(grammar: Grammar, vocabulary: GrammarVocabulary, trigger: String? = nil, prefix: [UInt8] = []) throws {
        matcher = GrammarMatcher(grammar)
        self.vocabulary = vocabulary
        mask = TokenMask(count: vocabulary.count)
        closingMask = TokenMask(count: vocabulary.count)
        completion = GrammarCompletion(grammar)
        self.trigger = trigger.map { Array($0.utf8) }
        isActive = trigger == nil
        if isActive && !matcher.accept(prefix) { throw GrammarConstraintError.prefixRefused }
    }

    public mutating func apply(_ logits: inout [Float], history: [Int32]) {
        guard isActive else { return }
        matcher.allowedTokens(vocabulary, into: &mask)
        if let budget { closeIfDue(remaining: budget - generated) }
        if mask.isEmpty {
            // Nothing the grammar allows is a token (a dead end): let the generation end.
            for id in vocabulary.endOfGeneration { mask.insert(id) }
        }
        mask.apply(to: &logits)
    }

    /// Near the end of the budget, allows only the longest token that begins the shortest ending
    /// (so the ending takes the tokens counted for it), or the end of generation once it is written.
    private mutating func closeIfDue(remaining: Int) {
        guard let ending = completion.completion(of: matcher) else { return }
        guard isClosing || remaining <= vocabulary.tokenCount(spelling: ending) + 1 + Self.closingMargin else { return }
        isClosing = true
        closingMask.removeAll()
        if ending.isEmpty {
            for id in vocabulary.endOfGeneration where mask.contains(id) { closingMask.insert(id) }
        } else if let next = vocabulary.tokens(beginning: ending[...]).first(where: mask.contains) {
            closingMask.insert(next)
        }
        // An ending the matcher would refuse (it should not happen) leaves the grammar's own mask.
        if !closingMask.isEmpty { swap(&mask, &closingMask) }
    }

    public mutating func accept(_ token: Int32) {
        generated += 1
        guard token >= 0, Int(token) < vocabulary.count else { return }
        let piece = vocabulary.pieces[Int(token)]
        if isActive {
            matcher.accept(piece)
            return
        }
        guard let trigger, !gaveUp else { return }
        // Only a trigger that ends in this token's bytes is new.
        let from = max(0, waiting.count - trigger.count + 1)
        waiting += piece
        guard let start = Self.firstIndex(of: trigger, in: waiting, from: from) else { return }
        isActive = matcher.accept(waiting[start...])
        gaveUp = !isActive
    }

    static func firstIndex(of needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard haystack.count >= needle.count, from <= haystack.count - needle.count else { return nil }
        return (from...(haystack.count - needle.count)).first { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}

/// What a reply must follow: a grammar, from its first byte or from a trigger on, and the bytes
/// of the reply that are already fixed (a forced start in the prompt) that the grammar begins with.
public struct ReplyGrammar: Sendable, Equatable {
    public var grammar: Grammar
    public var trigger: String?
    public var prefix: String
    /// The grammar is a tool call's (its arguments are sure to be valid as they come).
    public var isToolCall: Bool

    public init(grammar: Grammar, trigger: String? = nil, prefix: String = "", isToolCall: Bool = false) {
        self.grammar = grammar
        self.trigger = trigger
        self.prefix = prefix
        self.isToolCall = isToolCall
    }
}

extension GrammarConstraint {
    public init(_ reply: ReplyGrammar, vocabulary: GrammarVocabulary) throws {
        try self.init(grammar: reply.grammar, vocabulary: vocabulary, trigger: reply.trigger, prefix: Array(reply.prefix.utf8))
    }
}

public enum GrammarConstraintError: Error {
    /// The reply's forced start is not a beginning the grammar allows.
    case prefixRefused
}

extension GrammarVocabulary {
    /// A tokenizer's vocabulary for grammars: control tokens have no bytes (never allowed by a
    /// grammar), the end-of-generation tokens end it.
    public convenience init(tokenizer: Tokenizer) {
        let v = tokenizer.vocabulary
        self.init(pieces: (0..<v.count).map { tokenizer.piece(Int32($0), special: false) }, endOfGeneration: v.endOfGeneration.sorted())
    }
}
