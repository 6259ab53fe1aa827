import Foundation

/// A file of a hub repository: its path in the repo, size and (for large files) the SHA-256 the
/// hub stores as its LFS object id.
public struct HubFile: Sendable, Equatable, Decodable {
    public let path: String
    public let size: Int64
    public let sha256: String?

    enum CodingKeys: String, CodingKey { case path, size, lfs, type }
    struct LFS: Decodable { let oid: String; let size: Int64? }

    public init(path: String, size: Int64, sha256: String?) {
        self.path = path
        self.size = size
        self.sha256 = sha256
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.decode(String.self, forKey: .path)
        let lfs = try c.decodeIfPresent(LFS.self, forKey: .lfs)
        size = try lfs?.size ?? c.decodeIfPresent(Int64.self, forKey: .size) ?? 0
        sha256 = lfs?.oid.lowercased()
    }
}
