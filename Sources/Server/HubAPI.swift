import Foundation
import Hummingbird
import ModelStore
import Templates

/// The hub as the web interface's Discover screen browses it: `GET /api/v1/hub/search?q=WORDS`
/// (repositories with GGUF files, most downloaded first, trusted publishers marked) and
/// `GET /api/v1/hub/models?repo=OWNER/REPO` (its models: quantization, size, whether it fits in this
/// machine's memory, the one `wick get` would choose). Downloads go through the download jobs.
struct HubAPI: Sendable {
    let hub: HubClient
    let settings: Settings

    func register(on router: Router<WickRequestContext>) {
        let hub = self.hub, settings = self.settings
        router.get("api/v1/hub/search") { request, _ in
            let query = request.uri.queryParameters.get("q") ?? ""
            guard (1...200).contains(query.count) else {
                throw APIError.invalid("'q' must hold 1 to 200 characters of search words.", param: "q")
            }
            let repos = try await Self.asking(hub) { try await hub.search(query) }
            return WickServer.json(Responses.object([("results", .array(repos.map { repo in
                Responses.object([("repo", .string(repo.id)), ("publisher", .string(repo.owner)),
                                  ("trusted", .bool(Publishers.isTrusted(repo.owner, settings: settings))),
                                  ("downloads", repo.downloads.map(Value.int) ?? .none)])
            }))]))
        }
        router.get("api/v1/hub/models") { request, _ in
            let name = request.uri.queryParameters.get("repo") ?? ""
            let spec: ModelSpec
            do { spec = try ModelSpec(parsing: name) } catch { throw APIError.invalid("'repo' must be OWNER/REPO: \(error)", param: "repo") }
            let files = try await Self.asking(hub) { try await hub.files(owner: spec.owner, repo: spec.repo) }
            let models = RepoModel.models(in: files)
            let memory = SystemMemory.current().totalBytes
            let chosen = RepoModel.defaultChoice(in: models, memoryBytes: memory)
            return WickServer.json(Responses.object([
                ("repo", .string("\(spec.owner)/\(spec.repo)")), ("publisher", .string(spec.owner)),
                ("trusted", .bool(Publishers.isTrusted(spec.owner, settings: settings))), ("memory_bytes", .int(Int(memory))),
                ("models", .array(models.map { m in
                    Responses.object([("label", .string(m.label)), ("quantization", .string(m.quantization?.uppercased() ?? m.label)),
                                      ("size_bytes", .int(Int(m.sizeBytes))), ("files", .int(m.files.count)),
                                      ("fits", .bool(m.fits(memoryBytes: memory))), ("default", .bool(m == chosen)),
                                      ("model", .string("\(spec.owner)/\(spec.repo)@\(m.label)"))])
                })),
            ]))
        }
    }

    /// Runs a hub request, its failures as API errors (the hub's 404 stays a 404).
    static func asking<T: Sendable>(_ hub: HubClient, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as HubError {
            switch error {
            case .notFound: throw APIError.notFound("\(error)", param: "repo", code: "model_not_found")
            case .denied: throw APIError(status: 403, message: "\(error)", type: "invalid_request_error", code: "hub_denied")
            default: throw APIError(status: 502, message: "\(error)", type: "server_error", code: "hub_unavailable")
            }
        }
    }
}
