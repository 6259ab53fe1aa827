/// Why talking to the hub or downloading from it failed.
public enum HubError: Error, CustomStringConvertible, Equatable {
    case unreachable(String), denied(String), notFound(String), badResponse(String)
    case checksumMismatch(file: String, expected: String, found: String)
    case transfer(String)

    public var description: String {
        switch self {
        case .unreachable(let m), .denied(let m), .notFound(let m), .badResponse(let m), .transfer(let m): return m
        case .checksumMismatch(let file, let expected, let found):
            return "\(file) failed verification (SHA-256 \(found), the hub says \(expected)); the download was deleted"
        }
    }
}
