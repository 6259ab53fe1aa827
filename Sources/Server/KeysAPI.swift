import Foundation
import Hummingbird
import ModelStore
import Templates

/// The keys Wick issues, managed from the web interface's Server screen: `GET /api/v1/keys` (their
/// names and dates, never the keys, and how many keys the service was started with), `POST
/// /api/v1/keys {"name"}` (a new key, in clear this once; one of the same name is replaced) and
/// `DELETE /api/v1/keys/NAME` (percent-encoded; revoked at once). Issued keys are the same ones `wick elastic connect`
/// issues (`APIKeyStore`): the first turns authentication on, and with none issued or configured it is
/// off again. Any accepted key may manage them, as it may load and delete models.
struct KeysAPI: Sendable {
    let store: APIKeyStore
    let configured: ServiceKeys

    func register(on router: Router<WickRequestContext>) {
        router.get("api/v1/keys") { _, _ in listing() }
        router.post("api/v1/keys") { request, _ in
            let body = try FieldReader.object(json: try await WickServer.body(of: request, limit: 4096))
            let name = (try FieldReader(body).string("name") ?? "").trimmingCharacters(in: .whitespaces)
            try Self.check(name)
            let key = try store.issue(name: name)
            return WickServer.json(Responses.object([("name", .string(name)), ("key", .string(key))]), status: .created)
        }
        // Names hold a '/' (`wick elastic connect` names a key after its target): the rest of the path is the name.
        router.delete("api/v1/keys/**") { request, _ in
            let name = String(request.uri.path.dropFirst("/api/v1/keys/".count)).removingPercentEncoding ?? ""
            guard try store.revoke(name: name) else {
                throw APIError.notFound("No issued key is named '\(name)'.", param: "name", code: "key_not_found")
            }
            return listing()
        }
    }

    private func listing() -> Response {
        WickServer.json(Responses.object([
            ("keys", .array(store.entries().map { entry in
                Responses.object([("name", .string(entry.name)), ("created", .string(entry.created.formatted(.iso8601)))])
            })),
            ("configured", .int(configured.digests.count)),
        ]))
    }

    /// A name to tell keys apart by: 1 to 64 printable characters.
    static func check(_ name: String) throws {
        guard (1...64).contains(name.count), name.unicodeScalars.allSatisfy({ !CharacterSet.controlCharacters.contains($0) }) else {
            throw APIError.invalid("'name' must hold 1 to 64 printable characters.", param: "name")
        }
    }
}
