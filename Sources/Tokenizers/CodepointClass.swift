/// The character classes the pre-tokenizer patterns ask about (`\p{L}`, `\p{N}`, `\p{P}`, `\s`),
/// one per code point, as llama.cpp's tables assign them: white space wins over the general
/// category, and unassigned code points are "undefined".
struct CodepointClass: OptionSet, Sendable {
    let rawValue: UInt8
    static let letter = CodepointClass(rawValue: 1)
    static let number = CodepointClass(rawValue: 2)
    static let whitespace = CodepointClass(rawValue: 4)
    static let punctuation = CodepointClass(rawValue: 8)
    static let asciiUpper = CodepointClass(rawValue: 16)
    static let asciiLower = CodepointClass(rawValue: 32)
    /// Anything assigned that is none of the above (symbols, marks, controls, separators).
    static let other = CodepointClass(rawValue: 64)
    static let undefined = CodepointClass(rawValue: 128)

    private static let ascii: [CodepointClass] = (0..<128).map { classify(UInt32($0)) }

    static func of(_ cp: UInt32) -> CodepointClass {
        cp < 128 ? ascii[Int(cp)] : classify(cp)
    }

    private static func classify(_ cp: UInt32) -> CodepointClass {
        guard let scalar = Unicode.Scalar(cp) else { return .undefined }
        if scalar.properties.isWhitespace { return .whitespace }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter:
            return cp < 128 ? [.letter, .asciiUpper] : .letter
        case .lowercaseLetter:
            return cp < 128 ? [.letter, .asciiLower] : .letter
        case .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return .punctuation
        case .unassigned:
            return .undefined
        default:
            return .other
        }
    }
}
