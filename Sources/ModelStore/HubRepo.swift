/// A repository a hub search found.
public struct HubRepo: Sendable, Decodable, Equatable {
    /// `OWNER/REPO`.
    public let id: String
    public let downloads: Int?
    public let likes: Int?

    public var owner: String { String(id.split(separator: "/").first ?? "") }
}
