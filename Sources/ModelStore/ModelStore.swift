import Foundation

/// The downloaded models under `$WICK_HOME/models/OWNER/REPO/`, with their keys and name resolution.
/// Only complete models are listed: `.part` downloads and split models missing a part are not.
public struct ModelStore: Sendable {
    public let home: WickHome

    public init(home: WickHome) { self.home = home }

    /// Every complete model, sorted by key.
    public func models() -> [StoredModel] {
        let fm = FileManager.default
        var result: [StoredModel] = []
        for owner in Self.children(of: home.models) {
            for repo in Self.children(of: home.models.appendingPathComponent(owner)) {
                let dir = home.models.appendingPathComponent(owner).appendingPathComponent(repo)
                guard let walker = fm.enumerator(at: dir, includingPropertiesForKeys: nil, options: [.skipsHiddenFiles]) else { continue }
                let files = walker.compactMap { $0 as? URL }.filter(Self.isFile)
                let complete = ModelFileName.completeModels(files) { String($0.path.dropFirst(dir.path.count + 1)) }.map { model in
                    (quant: model.name.quantization, stem: model.name.stem.lowercased(), files: model.files)
                }
                for model in complete {
                    var key = "\(owner)/\(repo)"
                    if complete.count > 1 {
                        let quantIsUnique = model.quant != nil && complete.filter { $0.quant == model.quant }.count == 1
                        key += "@" + (quantIsUnique ? model.quant! : model.stem)
                    }
                    let size = model.files.reduce(Int64(0)) { $0 + Self.size(of: $1) }
                    result.append(StoredModel(key: key, owner: owner, repo: repo, quantization: model.quant, files: model.files, sizeBytes: size))
                }
            }
        }
        return result.sorted { $0.key.lowercased() < $1.key.lowercased() }
    }

    /// The model `name` means: a key, a key without its owner, or a unique prefix of either
    /// (case-insensitive). Only listed models are candidates, so a name never reaches outside the store.
    public func resolve(_ name: String) throws -> StoredModel {
        try Self.resolve(name, among: models())
    }

    static func resolve(_ name: String, among models: [StoredModel]) throws -> StoredModel {
        let wanted = name.lowercased()
        for match in [{ (m: StoredModel) in m.key.lowercased() == wanted },
                      { (m: StoredModel) in m.shortKey.lowercased() == wanted },
                      { (m: StoredModel) in m.key.lowercased().hasPrefix(wanted) || m.shortKey.lowercased().hasPrefix(wanted) }] {
            let found = models.filter(match)
            if found.count == 1 { return found[0] }
            if found.count > 1 { throw StoreError.ambiguous(name: name, candidates: found.map(\.key)) }
        }
        throw StoreError.notFound(name: name, available: models.map(\.key))
    }

    /// The folder of `owner/repo`, after checking both are plain names.
    public func repoDirectory(owner: String, repo: String) throws -> URL {
        try Self.checkSegment(owner, what: "owner")
        try Self.checkSegment(repo, what: "repository")
        return home.models.appendingPathComponent(owner).appendingPathComponent(repo)
    }

    /// Where a repo's file goes: its path inside the repo folder, each part checked to be a plain
    /// name (a hub listing cannot place files elsewhere).
    public func destination(owner: String, repo: String, file: String) throws -> URL {
        var url = try repoDirectory(owner: owner, repo: repo)
        let parts = file.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !parts.isEmpty else { throw StoreError.invalidName(file, reason: "empty file name") }
        for part in parts {
            try Self.checkSegment(part, what: "file name")
            url.appendPathComponent(part)
        }
        return url
    }

    /// Deletes a model's files, and its repo and owner folders when they are left empty.
    public func remove(_ model: StoredModel) throws {
        let fm = FileManager.default
        for file in model.files { try fm.removeItem(at: file) }
        let repoDir = home.models.appendingPathComponent(model.owner).appendingPathComponent(model.repo)
        for dir in [repoDir, repoDir.deletingLastPathComponent()] where Self.children(of: dir).isEmpty {
            try? fm.removeItem(at: dir)
        }
    }

    static func checkSegment(_ s: String, what: String) throws {
        let allowed = s.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII || "._-+".unicodeScalars.contains($0) }
        guard !s.isEmpty, s.count <= 200, allowed, !s.hasPrefix("."), s != ".." else {
            throw StoreError.invalidName(s, reason: "a \(what) may hold only letters, digits, '.', '_', '-' and '+', and may not start with '.'")
        }
    }

    static func children(of dir: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    static func isFile(_ url: URL) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && !isDir.boolValue
    }

    static func size(of url: URL) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: url.resolvingSymlinksInPath().path))?[.size] as? NSNumber)?.int64Value ?? 0
    }
}
