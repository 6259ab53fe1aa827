import GGUF

/// What a vocabulary entry is, from `tokenizer.ggml.token_type`, plus what llama.cpp infers.
public struct TokenAttributes: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let normal = TokenAttributes(rawValue: 1 << 0)
    public static let unknown = TokenAttributes(rawValue: 1 << 1)
    public static let control = TokenAttributes(rawValue: 1 << 2)
    public static let userDefined = TokenAttributes(rawValue: 1 << 3)
    public static let unused = TokenAttributes(rawValue: 1 << 4)
    public static let byte = TokenAttributes(rawValue: 1 << 5)
    public static let undefined = TokenAttributes(rawValue: 1 << 6)
    /// Whitespace after the token is not text of its own (llama.cpp's RSTRIP).
    public static let stripsRight = TokenAttributes(rawValue: 1 << 7)

    init(ggufType: Int) {
        switch ggufType {
        case 1: self = .normal
        case 2: self = .unknown
        case 3: self = .control
        case 4: self = .userDefined
        case 5: self = .unused
        case 6: self = .byte
        default: self = .undefined
        }
    }
}

public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    case missingVocabulary
    case unsupportedModel(String)
    case unsupportedPreTokenizer(String)
    case inconsistent(String)

    public var description: String {
        switch self {
        case .missingVocabulary: return "the model file has no tokenizer vocabulary (tokenizer.ggml.tokens)"
        case .unsupportedModel(let m): return "unsupported tokenizer model '\(m)' (supported: gpt2 byte-level BPE, llama SentencePiece, bert WordPiece)"
        case .unsupportedPreTokenizer(let p): return "unsupported pre-tokenizer '\(p)'"
        case .inconsistent(let why): return "inconsistent tokenizer metadata: \(why)"
        }
    }
}

/// The token table and the special-token facts of a model, read from GGUF metadata alone.
public struct Vocabulary: Sendable {
    public enum Kind: Sendable { case bytePairs, sentencePiece, wordPiece }

    public let kind: Kind
    public let tokens: [String]
    /// Each token's text as UTF-8 bytes.
    let tokenBytes: [[UInt8]]
    public let scores: [Float]
    public private(set) var attributes: [TokenAttributes]
    /// Keyed by bytes: Swift's String equality would merge texts that differ only in Unicode normalisation.
    let ids: [TokenBytes: Int32]
    public let preTokenizerName: String

    public private(set) var bos: Int32?
    public private(set) var eos: Int32?
    public private(set) var eot: Int32?
    public private(set) var unknown: Int32?
    public private(set) var padding: Int32?
    /// Tokens that end a generation (EOS, EOT, `<|im_end|>`, `<end_of_turn>`, …).
    public private(set) var endOfGeneration: Set<Int32> = []
    public let addBOS: Bool
    public let addEOS: Bool
    /// SentencePiece: prefix a space to text that starts the input or follows a special token.
    public let addSpacePrefix: Bool
    /// BPE: emit a whole pre-tokenized word as one token when the vocabulary has it.
    let ignoreMerges: Bool
    /// WordPiece: the separator closing an input ([SEP]), and BERT's normaliser.
    public private(set) var separator: Int32?
    let lowercase: Bool
    let stripAccents: Bool

    public var count: Int { tokens.count }

    public func id(of text: String) -> Int32? { ids[TokenBytes(Array(text.utf8))] }
    func id(of bytes: [UInt8]) -> Int32? { ids[TokenBytes(bytes)] }

    public init(gguf: GGUFFile) throws {
        guard let tokens = try gguf.stringArray("tokenizer.ggml.tokens"), !tokens.isEmpty else { throw TokenizerError.missingVocabulary }
        let model = try gguf.string("tokenizer.ggml.model") ?? "llama"
        switch model {
        case "gpt2": kind = .bytePairs
        case "llama": kind = .sentencePiece
        case "bert": kind = .wordPiece
        default: throw TokenizerError.unsupportedModel(model)
        }
        let pre = try gguf.string("tokenizer.ggml.pre") ?? "default"
        preTokenizerName = pre
        var scores = try gguf.floatArray("tokenizer.ggml.scores") ?? []
        if scores.isEmpty { scores = Array(repeating: 0, count: tokens.count) }
        let types = try gguf.integerArray("tokenizer.ggml.token_type") ?? Array(repeating: 1, count: tokens.count)
        guard scores.count >= tokens.count, types.count >= tokens.count else {
            throw TokenizerError.inconsistent("\(tokens.count) tokens but \(scores.count) scores and \(types.count) types")
        }
        var ids: [TokenBytes: Int32] = [:]
        ids.reserveCapacity(tokens.count)
        var texts = tokens
        for (i, t) in tokens.enumerated() {
            // llama.cpp renames empty entries so that every text is unique.
            let text = t.isEmpty ? "[EMPTY_\(i)]" : t
            texts[i] = text
            guard ids.updateValue(Int32(i), forKey: TokenBytes(Array(text.utf8))) == nil else {
                throw TokenizerError.inconsistent("duplicate token '\(text)' at id \(i)")
            }
        }
        self.tokens = texts
        tokenBytes = texts.map { Array($0.utf8) }
        self.ids = ids
        self.scores = Array(scores.prefix(tokens.count))
        attributes = types.prefix(tokens.count).map(TokenAttributes.init(ggufType:))

        let n = tokens.count
        func tokenID(_ key: String) throws -> Int32? {
            guard let v = try gguf.integer(key), v >= 0, v < n else { return nil }
            return Int32(v)
        }
        // BERT vocabularies default to [CLS] 101 (as the BOS), [UNK] 100, [SEP] 102.
        let bert = kind == .wordPiece
        func defaulted(_ id: Int32) -> Int32? { bert && Int(id) < n ? id : nil }
        bos = try tokenID("tokenizer.ggml.bos_token_id") ?? defaulted(101)
        eos = try tokenID("tokenizer.ggml.eos_token_id")
        eot = try tokenID("tokenizer.ggml.eot_token_id")
        unknown = try tokenID("tokenizer.ggml.unknown_token_id") ?? defaulted(100)
        separator = try tokenID("tokenizer.ggml.seperator_token_id") ?? defaulted(102)
        lowercase = try gguf.bool("tokenizer.ggml.normalizer.lowercase") ?? true
        stripAccents = try gguf.bool("tokenizer.ggml.normalizer.strip_accents") ?? lowercase
        padding = try tokenID("tokenizer.ggml.padding_token_id")
        let eom = try tokenID("tokenizer.ggml.eom_token_id")

        let llama3Like = ["llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral", "tekken", "lfm2"].contains(pre)
        ignoreMerges = kind == .bytePairs && llama3Like
        // WordPiece inputs always open with [CLS] and close with [SEP] (llama.cpp ignores the flags there).
        let fileAddsBOS = try gguf.bool("tokenizer.ggml.add_bos_token") ?? (kind == .sentencePiece || llama3Like)
        let fileAddsEOS = try gguf.bool("tokenizer.ggml.add_eos_token") ?? false
        addBOS = bert || fileAddsBOS
        addEOS = !bert && fileAddsEOS
        addSpacePrefix = try gguf.bool("tokenizer.ggml.add_space_prefix") ?? (kind == .sentencePiece)

        // Like llama.cpp, recognise end-of-turn tokens by their text and make sure they are control tokens.
        let endOfTurnTexts = ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>", "<end_of_utterance>"]
        if eot == nil, let found = endOfTurnTexts.lazy.compactMap({ ids[TokenBytes(Array($0.utf8))] }).first { eot = found }
        var eog: Set<Int32> = []
        for text in endOfTurnTexts + ["<|eom_id|>", "<|return|>", "<|call|>", "</s>", "<eos>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"] {
            if let id = ids[TokenBytes(Array(text.utf8))] { eog.insert(id) }
        }
        for id in [eos, eot, eom].compactMap({ $0 }) { eog.insert(id) }
        for id in eog where !attributes[Int(id)].contains(.control) {
            attributes[Int(id)].insert(.control)
        }
        // gpt-oss's harmony format, read as llama.cpp reads it: a message's header tokens are text the
        // reply is parsed by, and `<|end|>` ends one message of a reply that `<|return|>` or `<|call|>` ends.
        func token(_ text: String) -> Int32? { ids[TokenBytes(Array(text.utf8))] }
        for text in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
            if let header = token(text) { attributes[Int(header)] = .userDefined }
        }
        if let end = token("<|end|>"), let done = token("<|return|>"), let call = token("<|call|>"), eog.isSuperset(of: [end, done, call]) {
            eog.remove(end)
            attributes[Int(end)] = .userDefined
            if eot == end { eot = nil }
        }
        endOfGeneration = eog
        // Phi-3's tokenizer drops the whitespace after its special tokens (its added tokens' rstrip),
        // except after <unk>, <s> and <|endoftext|>; llama.cpp recognises the model by name.
        let name = (try gguf.string("general.name") ?? "").lowercased()
        if name.contains("phi-3") || name.contains("phi3") {
            let kept = Set(["<unk>", "<s>", "<|endoftext|>"].compactMap(token))
            for i in attributes.indices where !attributes[i].isDisjoint(with: [.control, .userDefined, .unknown]) && !kept.contains(Int32(i)) {
                attributes[i].insert(.stripsRight)
            }
        }
    }

    public func isControl(_ id: Int32) -> Bool { attributes[Int(id)].contains(.control) }
}

/// Token text as raw bytes, hashed and compared bytewise.
struct TokenBytes: Hashable, Sendable {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
}
