import Foundation

/// What `wick get` was asked for: `OWNER/REPO[@QUANT]`, or a hub address of a repository or of one
/// of its files (`https://huggingface.co/OWNER/REPO/blob/main/FILE.gguf`).
public struct ModelSpec: Sendable, Equatable {
    public let owner: String
    public let repo: String
    /// A quantization or file stem to pick (from `@…` or the file of an address).
    public let choice: String?

    public init(owner: String, repo: String, choice: String?) {
        self.owner = owner
        self.repo = repo
        self.choice = choice
    }

    public init(parsing text: String) throws {
        var rest = text.trimmingCharacters(in: .whitespaces)
        var choice: String?
        if let scheme = rest.range(of: "://") {
            rest = String(rest[scheme.upperBound...])
            rest = String(rest.drop(while: { $0 != "/" }).dropFirst())
            let parts = rest.split(separator: "/").map(String.init)
            guard parts.count >= 2 else { throw StoreError.invalidName(text, reason: "the address names no OWNER/REPO") }
            if parts.count >= 5, ["blob", "resolve"].contains(parts[2]), let name = ModelFileName(parts[parts.count - 1]) {
                choice = name.stem
            }
            rest = parts[0] + "/" + parts[1]
        } else if let at = rest.lastIndex(of: "@") {
            choice = String(rest[rest.index(after: at)...])
            rest = String(rest[..<at])
            guard choice?.isEmpty == false else { throw StoreError.invalidName(text, reason: "nothing follows '@'") }
        }
        let (owner, repo) = try ModelImporter.ownerAndRepo(rest)
        self.init(owner: owner, repo: repo, choice: choice)
    }
}
