import Foundation
import ModelStore

/// Downloads started through `POST /api/v1/models/download`, followed by job id.
public actor DownloadJobs {
    public struct Job: Sendable {
        public var id: String
        public var model: String
        public var status = "downloading"
        public var totalBytes: Int64
        /// Bytes so far of each file, and the rate of the latest.
        public var fileBytes: [String: Int64] = [:]
        public var bytesPerSecond: Double = 0
        public var downloadedBytes: Int64 { fileBytes.values.reduce(0, +) }
        public var secondsLeft: Double? { bytesPerSecond > 0 ? Double(max(totalBytes - downloadedBytes, 0)) / bytesPerSecond : nil }
        public var key: String?
        public var error: String?
    }

    let fetcher: ModelFetcher
    let settings: Settings
    private var jobs: [String: Job] = [:]

    public init(fetcher: ModelFetcher, settings: Settings) {
        self.fetcher = fetcher
        self.settings = settings
    }

    /// Starts downloading `spec` (its `@quant`, the only model of the repo, or the default choice
    /// for this machine's memory). Unknown publishers need `allowUntrusted`: no one is here to confirm.
    public func start(_ text: String, allowUntrusted: Bool) async throws -> Job {
        let spec: ModelSpec
        do { spec = try ModelSpec(parsing: text) } catch { throw APIError.invalid("\(error)", param: "model") }
        guard allowUntrusted || Publishers.isTrusted(spec.owner, settings: settings) else {
            throw APIError(status: 403, message: "'\(spec.owner)' is not a trusted publisher. Add it with `wick trust add \(spec.owner)` or send \"allow_untrusted\": true.",
                           type: "invalid_request_error", param: "model", code: "untrusted_publisher")
        }
        let models: [RepoModel]
        do { models = try await fetcher.available(spec) } catch let error as HubError {
            throw APIError.notFound("\(error)", param: "model", code: "model_not_found")
        }
        let chosen: RepoModel
        if let choice = spec.choice {
            guard let m = RepoModel.pick(choice, in: models) else {
                throw APIError.notFound("\(spec.owner)/\(spec.repo) has no '\(choice)'; it offers \(models.map(\.label).joined(separator: ", ")).", param: "model", code: "model_not_found")
            }
            chosen = m
        } else {
            chosen = RepoModel.defaultChoice(in: models, memoryBytes: SystemMemory.current().totalBytes) ?? models[0]
        }
        let id = "job-" + UUID().uuidString.prefix(8).lowercased()
        jobs[id] = Job(id: id, model: "\(spec.owner)/\(spec.repo)@\(chosen.label)", totalBytes: chosen.sizeBytes)
        let fetcher = self.fetcher
        Task {
            do {
                let stored = try await fetcher.fetch(chosen, of: spec) { progress in Task { await self.update(id, progress) } }
                finish(id, key: stored.key, error: nil)
            } catch {
                finish(id, key: nil, error: "\(error)")
            }
        }
        return jobs[id]!
    }

    public func job(_ id: String) -> Job? { jobs[id] }

    private func update(_ id: String, _ progress: DownloadProgress) {
        guard jobs[id]?.status == "downloading" else { return }
        jobs[id]?.fileBytes[progress.file] = progress.bytesDone
        jobs[id]?.bytesPerSecond = progress.bytesPerSecond
    }

    private func finish(_ id: String, key: String?, error: String?) {
        jobs[id]?.status = error == nil ? "completed" : "failed"
        if error == nil, let total = jobs[id]?.totalBytes { jobs[id]?.fileBytes = ["all": total] }
        jobs[id]?.key = key
        jobs[id]?.error = error
    }
}
