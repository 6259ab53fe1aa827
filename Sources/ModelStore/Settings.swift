import Foundation

/// `$WICK_HOME/settings.json`: what a user sets once. Missing keys take their defaults, so the file
/// only holds what was changed.
public struct Settings: Codable, Sendable, Equatable {
    /// Publishers added with `wick trust add`, beside the built-in ones.
    public var trustedPublishers: [String] = []
    /// Load a downloaded model when a request names it.
    public var jitLoading = true
    /// Context length of models loaded just in time (nil: the trained length, at most 8192).
    /// Elastic's guide asks for 64K: `"default_context_length": 65536`.
    public var defaultContextLength: Int?
    /// Idle seconds after which a model loaded just in time is unloaded.
    public var jitTTLSeconds = 3600
    /// Bytes of reused prompt prefixes kept on disk per model, across restarts (0: none).
    public var prefixCacheBytes = 2 << 30

    enum CodingKeys: String, CodingKey {
        case trustedPublishers = "trusted_publishers", jitLoading = "jit_loading"
        case defaultContextLength = "default_context_length", jitTTLSeconds = "jit_ttl_seconds"
        case prefixCacheBytes = "prefix_cache_bytes"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        trustedPublishers = try c.decodeIfPresent([String].self, forKey: .trustedPublishers) ?? []
        jitLoading = try c.decodeIfPresent(Bool.self, forKey: .jitLoading) ?? true
        defaultContextLength = try c.decodeIfPresent(Int.self, forKey: .defaultContextLength)
        jitTTLSeconds = try c.decodeIfPresent(Int.self, forKey: .jitTTLSeconds) ?? 3600
        prefixCacheBytes = try c.decodeIfPresent(Int.self, forKey: .prefixCacheBytes) ?? 2 << 30
    }

    public static func load(from home: WickHome) throws -> Settings {
        guard let data = try? Data(contentsOf: home.settings) else { return Settings() }
        do {
            return try JSONDecoder().decode(Settings.self, from: data)
        } catch {
            throw StoreError.io("\(home.settings.path) is not valid settings JSON: \(error)")
        }
    }

    public func save(to home: WickHome) throws {
        try home.prepare()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: home.settings, options: .atomic)
    }
}
