import Foundation

/// Downloads a repository's model into the store: every file of it through `FileDownloader`
/// (resuming what an earlier run left), then finds it in the store listing.
public struct ModelFetcher: Sendable {
    public let store: ModelStore
    public let hub: HubClient
    public var downloader = FileDownloader()

    public init(store: ModelStore, hub: HubClient) {
        self.store = store
        self.hub = hub
    }

    /// The models `spec`'s repository offers, smallest first.
    public func available(_ spec: ModelSpec) async throws -> [RepoModel] {
        let models = RepoModel.models(in: try await hub.files(owner: spec.owner, repo: spec.repo))
        guard !models.isEmpty else { throw HubError.notFound("\(spec.owner)/\(spec.repo) has no GGUF model files") }
        return models
    }

    /// Downloads `model` (skipping files already complete) and returns it as stored.
    public func fetch(_ model: RepoModel, of spec: ModelSpec, progress: @Sendable (DownloadProgress) -> Void) async throws -> StoredModel {
        try store.home.prepare()
        var destinations: [URL] = []
        for file in model.files {
            let destination = try store.destination(owner: spec.owner, repo: spec.repo, file: file.path)
            destinations.append(destination)
            if FileDownloader.size(of: destination) == file.size && FileManager.default.fileExists(atPath: destination.path) { continue }
            try await downloader.download(from: hub.downloadURL(owner: spec.owner, repo: spec.repo, file: file.path), headers: hub.headers,
                                          to: destination, size: file.size, sha256: file.sha256, progress: progress)
        }
        guard let stored = store.models().first(where: { $0.files.map(\.standardizedFileURL) == destinations.map(\.standardizedFileURL) }) else {
            throw StoreError.io("the downloaded files of \(spec.owner)/\(spec.repo) are not a complete model in the store")
        }
        return stored
    }
}
