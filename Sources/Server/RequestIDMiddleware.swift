import HTTPTypes
import Hummingbird
import Logging

/// Every response carries `X-Request-Id`: the client's own (up to 128 letters, digits, `-`, `_`, `.`),
/// or the id Hummingbird gave the request, which its log lines carry as `hb.request.id`. The
/// request's log lines also carry the id sent back, as `request_id`, and each request ends with one
/// line: method, path, status, duration (a read of the log at debug level).
struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    static var header: HTTPField.Name { HTTPField.Name("X-Request-Id")! }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let id = request.headers[Self.header].flatMap { Self.isUsable($0) ? $0 : nil } ?? context.id
        var context = context
        context.logger[metadataKey: "request_id"] = .string(id)
        let started = ContinuousClock.now
        var response = try await next(request, context)
        response.headers[Self.header] = id
        let elapsed = ContinuousClock.now - started
        // The Logs screen reads the log every second: its reads would otherwise be most of what it shows.
        let level: Logger.Level = request.uri.path == "/api/v1/logs" && response.status == .ok ? .debug : .info
        context.logger.log(level: level, "\(request.method) \(request.uri.path) \(response.status.code) in \(elapsed.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow)))")
        return response
    }

    static func isUsable(_ id: String) -> Bool {
        (1...128).contains(id.utf8.count) && id.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F || c == 0x2E
        }
    }
}
