import Foundation
import GGUF

/// `wick import`: places a GGUF file already on disk (every part, for a split model) into the store
/// under `OWNER/REPO`, by moving it (as LM Studio does), copying or linking.
public struct ModelImporter: Sendable {
    public enum Mode: String, Sendable, CaseIterable { case move, copy, hardLink = "hard-link", symbolicLink = "symbolic-link" }

    public struct Plan: Sendable, Equatable {
        public let sources: [URL]
        public let destinations: [URL]
        public let mode: Mode
    }

    public let store: ModelStore

    public init(store: ModelStore) { self.store = store }

    /// What importing `file` would do; checks the file is a readable GGUF model and nothing is overwritten.
    public func plan(file: String, userRepo: String?, mode: Mode) throws -> Plan {
        let source = URL(fileURLWithPath: file).standardizedFileURL
        guard let name = ModelFileName(source.lastPathComponent) else {
            throw StoreError.invalidName(source.lastPathComponent, reason: "only .gguf model files can be imported")
        }
        var sources = [source]
        if let part = name.part {
            let dir = source.deletingLastPathComponent()
            sources = (1...part.count).map { index in
                dir.appendingPathComponent(String(format: "%@-%05d-of-%05d.gguf", name.stem, index, part.count))
            }
            if let missing = sources.first(where: { !FileManager.default.fileExists(atPath: $0.path) }) {
                throw StoreError.io("\(missing.path) is missing: a split model is imported with all its parts")
            }
        }
        do {
            _ = try GGUFFile(path: sources[0].path)
        } catch {
            throw StoreError.io("\(sources[0].path) is not a readable GGUF file: \(error)")
        }
        let (owner, repo) = try Self.ownerAndRepo(userRepo ?? "local/\(name.stem)")
        let destinations = try sources.map { try store.destination(owner: owner, repo: repo, file: $0.lastPathComponent) }
        for d in destinations where FileManager.default.fileExists(atPath: d.path) { throw StoreError.alreadyExists(path: d.path) }
        return Plan(sources: sources, destinations: destinations, mode: mode)
    }

    public func perform(_ plan: Plan) throws {
        let fm = FileManager.default
        try store.home.prepare()
        for (source, destination) in zip(plan.sources, plan.destinations) {
            try fm.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
            do {
                switch plan.mode {
                case .move: try fm.moveItem(at: source, to: destination)
                case .copy: try fm.copyItem(at: source, to: destination)
                case .hardLink: try fm.linkItem(at: source, to: destination)
                case .symbolicLink: try fm.createSymbolicLink(at: destination, withDestinationURL: source)
                }
            } catch {
                throw StoreError.io("could not \(plan.mode.rawValue) \(source.path) to \(destination.path): \(error.localizedDescription)")
            }
        }
    }

    /// `OWNER/REPO` split and checked.
    public static func ownerAndRepo(_ text: String) throws -> (String, String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { throw StoreError.invalidName(text, reason: "expected OWNER/REPO") }
        try ModelStore.checkSegment(parts[0], what: "owner")
        try ModelStore.checkSegment(parts[1], what: "repository")
        return (parts[0], parts[1])
    }
}
