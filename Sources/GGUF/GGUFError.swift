import Foundation

/// Everything that can be wrong with a GGUF file, each naming what and where.
public enum GGUFError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case badMagic(found: UInt32)
    case unsupportedVersion(UInt32)
    case truncated(what: String, offset: Int, needed: Int, fileSize: Int)
    case impossibleCount(what: String, count: UInt64, offset: Int)
    case unknownValueType(UInt32, key: String)
    case unknownTensorType(UInt32, tensor: String)
    case badDimensions(tensor: String, reason: String)
    case badAlignment(UInt64)
    case tensorOutOfBounds(tensor: String, offset: UInt64, size: UInt64, dataSize: UInt64)
    case duplicateKey(String)
    case duplicateTensor(String)
    case badSplit(String)
    case nestingTooDeep(key: String)
    case missingKey(String)
    case wrongType(key: String, expected: String, found: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            return "cannot open \(path): \(reason)"
        case .badMagic:
            // The bytes found are not shown: over HTTP they would reveal the start of any file.
            return "not a GGUF file (it does not begin with \"GGUF\")"
        case .unsupportedVersion(let v):
            return "unsupported GGUF version \(v) (supported: 2 and 3)"
        case .truncated(let what, let offset, let needed, let fileSize):
            return "file is truncated: \(what) at byte \(offset) needs \(needed) bytes, but the file has \(fileSize)"
        case .impossibleCount(let what, let count, let offset):
            return "impossible \(what) \(count) at byte \(offset): more than the rest of the file can hold"
        case .unknownValueType(let t, let key):
            return "unknown metadata value type \(t) for key '\(key)'"
        case .unknownTensorType(let t, let tensor):
            return "unknown tensor type \(t) for tensor '\(tensor)'"
        case .badDimensions(let tensor, let reason):
            return "tensor '\(tensor)' has bad dimensions: \(reason)"
        case .badAlignment(let a):
            return "general.alignment \(a) is not a power of two between 1 and 65536"
        case .tensorOutOfBounds(let tensor, let offset, let size, let dataSize):
            return "tensor '\(tensor)' data (offset \(offset), \(size) bytes) lies outside the data section of \(dataSize) bytes"
        case .duplicateKey(let k):
            return "duplicate metadata key '\(k)'"
        case .badSplit(let why):
            return "split model: \(why)"
        case .duplicateTensor(let t):
            return "duplicate tensor name '\(t)'"
        case .nestingTooDeep(let k):
            return "metadata array nesting too deep for key '\(k)'"
        case .missingKey(let k):
            return "missing metadata key '\(k)'"
        case .wrongType(let key, let expected, let found):
            return "metadata key '\(key)' is \(found), expected \(expected)"
        }
    }
}
