import Foundation
import Hummingbird
import Templates

/// Ollama's `POST /api/pull` for hub models named `hf.co/OWNER/REPO[:QUANT]` (how `ollama pull`
/// takes Hugging Face models): the download job of the native API, reported as Ollama's progress
/// lines (NDJSON: `pulling manifest`, `pulling …` with `total`/`completed`, `success`) or, with
/// `"stream": false`, one answer at the end. Names of Ollama's own registry are refused: it is not reached.
struct OllamaPull {
    let downloads: DownloadJobs

    func handle(body: Value.Object) async throws -> Response {
        let f = FieldReader(body)
        guard let name = try f.string("model") ?? f.string("name"), !name.isEmpty else { throw APIError.invalid("'model' is required.", param: "model") }
        guard let hubName = OllamaModelName(name) else {
            throw APIError.notFound("'\(name)' is a name of Ollama's registry, which Wick does not reach; pull a GGUF repository from the hub as hf.co/OWNER/REPO[:QUANT].",
                                    param: "model", code: "model_not_found")
        }
        let job = try await downloads.start(hubName.specText, allowUntrusted: false)
        let downloads = self.downloads
        guard try f.bool("stream") ?? true else {
            let done = await Self.finished(job.id, downloads: downloads) { _ in }
            if let error = done.error { throw APIError.internalError(error) }
            return WickServer.json(Responses.object([("status", .string("success"))]))
        }
        let body = ResponseBody { writer in
            func send(_ fields: [(String, Value)]) async throws {
                try await writer.write(ByteBuffer(string: Responses.object(fields).compactJSON + "\n"))
            }
            try await send([("status", .string("pulling manifest"))])
            let done = try await Self.finished(job.id, downloads: downloads) { progress in
                try await send([("status", .string("pulling \(progress.model)")), ("total", .int(Int(progress.totalBytes))),
                                ("completed", .int(Int(progress.downloadedBytes)))])
            }
            if let error = done.error {
                try await send([("error", .string(error))])
            } else {
                for status in ["verifying sha256 digest", "writing manifest", "success"] { try await send([("status", .string(status))]) }
            }
            try await writer.finish(nil)
        }
        return WickServer.eventStream(body, contentType: "application/x-ndjson")
    }

    /// Follows the job until it ends, telling `progress` each change of the bytes downloaded.
    static func finished(_ id: String, downloads: DownloadJobs,
                         progress: (DownloadJobs.Job) async throws -> Void) async rethrows -> DownloadJobs.Job {
        var reported: Int64 = -1
        while true {
            guard let job = await downloads.job(id) else { return DownloadJobs.Job(id: id, model: "", status: "failed", totalBytes: 0, error: "the download job is gone") }
            if job.status != "downloading" { return job }
            if job.downloadedBytes != reported {
                reported = job.downloadedBytes
                try await progress(job)
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }
}
