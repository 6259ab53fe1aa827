import Foundation

/// A file of API keys: one per line, blank lines and `#` comments ignored.
enum APIKeyFile {
    static func keys(at path: String) -> [String]? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }
}
