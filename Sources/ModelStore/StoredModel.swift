import Foundation
import GGUF

/// A complete model in the store: one GGUF file, or every part of a split one.
public struct StoredModel: Sendable, Equatable {
    /// `owner/repo`, or `owner/repo@quant` when the repo holds several models.
    public let key: String
    public let owner: String
    public let repo: String
    public let quantization: String?
    /// The files in part order; the first holds the metadata.
    public let files: [URL]
    public let sizeBytes: Int64

    public var path: URL { files[0] }
    /// The key without its owner (`repo` or `repo@quant`), accepted as a short name.
    public var shortKey: String { String(key.dropFirst(owner.count + 1)) }
}

extension StoredModel {
    /// The facts `wick ls` shows (a split model's first part opens the others).
    public func facts() -> ModelFacts? {
        (try? GGUFFile(path: path.path)).map { ModelFacts(file: $0, fallbackName: repo) }
    }
}
