/// Why a store operation failed, in words a user can act on.
public enum StoreError: Error, CustomStringConvertible, Equatable {
    case notFound(name: String, available: [String])
    case ambiguous(name: String, candidates: [String])
    case invalidName(String, reason: String)
    case alreadyExists(path: String)
    case io(String)

    public var description: String {
        switch self {
        case .notFound(let name, let available):
            return "no downloaded model matches '\(name)'" + (available.isEmpty ? " (none are downloaded: `wick get OWNER/REPO`)" : "; downloaded: \(available.joined(separator: ", "))")
        case .ambiguous(let name, let candidates):
            return "'\(name)' matches several models: \(candidates.joined(separator: ", ")); name one of them"
        case .invalidName(let name, let reason): return "'\(name)' is not a valid model name: \(reason)"
        case .alreadyExists(let path): return "\(path) already exists in the store"
        case .io(let message): return message
        }
    }
}
