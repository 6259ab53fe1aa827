import HTTPTypes
import Hummingbird
import NIOCore

/// The web interface: a page at `/` and its modules and style under `/ui/`, compiled into the
/// binary (`Web/`, embedded by SwiftPM), so it works on a network with no way out. The files are
/// public (they hold no data); what they show comes from the API, with the key the user enters.
/// The content security policy allows nothing from elsewhere.
struct WebInterface: Sendable {
    struct Asset: Sendable {
        let bytes: [UInt8]
        let contentType: String
    }

    static let assets: [String: Asset] = [
        "index.html": Asset(bytes: PackageResources.index_html, contentType: "text/html; charset=utf-8"),
        "style.css": Asset(bytes: PackageResources.style_css, contentType: "text/css; charset=utf-8"),
        "app.js": Asset(bytes: PackageResources.app_js, contentType: "text/javascript; charset=utf-8"),
        "api.js": Asset(bytes: PackageResources.api_js, contentType: "text/javascript; charset=utf-8"),
        "models.js": Asset(bytes: PackageResources.models_js, contentType: "text/javascript; charset=utf-8"),
        "load.js": Asset(bytes: PackageResources.load_js, contentType: "text/javascript; charset=utf-8"),
        "chat.js": Asset(bytes: PackageResources.chat_js, contentType: "text/javascript; charset=utf-8"),
        "server.js": Asset(bytes: PackageResources.server_js, contentType: "text/javascript; charset=utf-8"),
        "discover.js": Asset(bytes: PackageResources.discover_js, contentType: "text/javascript; charset=utf-8"),
        "logs.js": Asset(bytes: PackageResources.logs_js, contentType: "text/javascript; charset=utf-8"),
    ]

    func register(on router: Router<WickRequestContext>) {
        router.get("/") { _, _ in try Self.response("index.html") }
        router.get("ui/:file") { _, context in try Self.response(context.parameters.get("file") ?? "") }
    }

    static func response(_ name: String) throws -> Response {
        guard let asset = assets[name] else { throw APIError.notFound("No file '\(name)' in the web interface.") }
        return Response(status: .ok, headers: [
            .contentType: asset.contentType,
            .cacheControl: "no-cache",
            .contentSecurityPolicy: "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            .xContentTypeOptions: "nosniff",
        ], body: ResponseBody(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }
}
