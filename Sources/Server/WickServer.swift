import Foundation
import Hummingbird
import HummingbirdCore
import HTTPTypes
import Logging
import ModelStore
import NIOCore
import Prometheus
import ServiceLifecycle
import Templates

/// The HTTP server: OpenAI-compatible routes over the host's models (a request goes to the model
/// its `model` field names: chat completions, completions, embeddings, Responses), Anthropic's
/// Messages, Ollama's API (`OllamaAPI`), Wick's native `/api/v1` (`NativeAPI`), API keys, CORS, body
/// limits and OpenAI-format errors.
public struct WickServer: Sendable {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 1234
        /// Keys given to the service (a key file, the environment); with issued keys, they turn authentication on.
        public var apiKeys: [String] = []
        /// The file of keys Wick issued (`APIKeyStore`), read again whenever it changes.
        public var issuedKeys: URL?
        /// The service's own token for its owner's CLI (in the state file): accepted, but on its own it
        /// does not turn authentication on.
        public var localToken: String?
        /// Serve HTTPS with these certificates (reloadable) instead of plain HTTP.
        public var tls: TLSCertificates?
        public var cors = false
        public var maxBodyBytes = 32 << 20
        /// The request line and headers together (larger: 431).
        public var maxHeaderBytes = 64 << 10
        /// Seconds a request's head, then its body, may take to arrive; also how long an idle
        /// keep-alive connection stays open.
        public var readTimeoutSeconds = 30
        /// Open connections; one more gets a 503 and is closed.
        public var maxConnections = 512
        /// API requests per minute per key (0: no limit); over it, 429 with `Retry-After`.
        public var rateLimitPerMinute = 0
        /// After SIGTERM or SIGINT, seconds the running requests get to finish (`ShutdownDrain`).
        public var drainSeconds = 30
        /// Where swift-metrics records (`ServerMetrics.bootstrap`), served at `/metrics`; nil: no `/metrics`.
        public var metrics: PrometheusCollectorRegistry?
        /// The file this process's output goes to, served at `/api/v1/logs` (`ServiceLogAPI`).
        public var logFile: URL?
        public init() {}
    }

    public let host: ModelHost
    public let configuration: Configuration
    let downloads: DownloadJobs?
    let drain: ShutdownDrain
    /// The configured keys, which SIGHUP may replace.
    public let keys: ServiceKeys
    /// Where it listens and whether it answers other origins, which `PUT /api/v1/server` changes.
    let listener: ListenerSettings
    // What every listener shares: a change of listener builds a new router and server, and none of this may be lost with the old ones.
    let connections = ConnectionGuard.OpenConnections()
    let issued: IssuedKeys?
    let rateLimiter: RateLimiter?
    let responses = ResponseStore()

    public init(host: ModelHost, configuration: Configuration, downloads: DownloadJobs? = nil) {
        self.host = host
        self.configuration = configuration
        self.downloads = downloads
        keys = ServiceKeys(configuration.apiKeys)
        listener = ListenerSettings(.init(host: configuration.host, port: configuration.port, cors: configuration.cors))
        issued = configuration.issuedKeys.map(IssuedKeys.init)
        rateLimiter = configuration.rateLimitPerMinute > 0 ? RateLimiter(perMinute: configuration.rateLimitPerMinute) : nil
        drain = ShutdownDrain(seconds: configuration.drainSeconds, logger: Logger(label: "wick.server"), running: { [queue = host.queue] in queue.queued })
    }

    /// `cors`: whether it answers other web origins (default: as the listener does now).
    public func makeRouter(cors: Bool? = nil) -> Router<WickRequestContext> {
        let router = Router(context: WickRequestContext.self)
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ErrorMiddleware())
        if cors ?? listener.setting.cors { router.add(middleware: CORSMiddleware()) }
        router.add(middleware: AuthMiddleware(keys: keys, issued: issued, localToken: configuration.localToken, rateLimiter: rateLimiter))
        let host = self.host, drain = self.drain, responses = self.responses
        let limit = configuration.maxBodyBytes
        router.add(middleware: DrainMiddleware(drain: drain))

        router.get("health") { _, _ in Self.json(Responses.object([("status", .string("ok"))])) }
        // For load balancers and Kubernetes: ready while a model is loaded and the queue has room.
        router.get("ready") { _, _ in
            let loaded = await host.instances.count, queue = host.queue
            guard loaded > 0, queue.queued < queue.maxQueued, !drain.isDraining else {
                let why = drain.isDraining ? "The server is shutting down." : loaded == 0 ? "No model is loaded." : "Every queue place is taken (\(queue.maxQueued))."
                var error = APIError(status: 503, message: why, type: "server_error", code: "not_ready")
                error.retryAfter = 1
                throw error
            }
            return Self.json(Responses.object([("status", .string("ready")), ("loaded_models", .int(loaded)), ("queued", .int(queue.queued))]))
        }
        if let registry = configuration.metrics {
            router.get("metrics") { _, _ in
                await ServerMetrics.recordState(of: host)
                return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
            }
        }
        router.get("v1/models") { _, _ in
            Self.json(Responses.object([("object", .string("list")), ("data", .array(await Self.openAIModels(host).map(\.value)))]))
        }
        // Keys hold a '/', which one path parameter does not: the rest of the path is the id.
        router.get("v1/models/**") { request, _ in
            let id = String(request.uri.path.dropFirst("/v1/models/".count)).removingPercentEncoding ?? ""
            guard let model = await Self.openAIModels(host).first(where: { $0.id == id }) else {
                throw APIError.notFound("The model '\(id)' does not exist.", param: "model", code: "model_not_found")
            }
            return Self.json(model.value)
        }
        WebInterface().register(on: router)
        if let downloads { HubAPI(hub: downloads.fetcher.hub, settings: downloads.settings).register(on: router) }
        ServiceLogAPI(file: configuration.logFile).register(on: router)
        if let issued = configuration.issuedKeys { KeysAPI(store: APIKeyStore(file: issued), configured: keys).register(on: router) }
        NativeAPI(host: host, downloads: downloads, limit: limit, listener: listener).register(on: router)
        OllamaAPI(host: host, downloads: downloads, limit: limit).register(on: router)
        router.get("v1/responses/:id") { _, context in
            let id = context.parameters.get("id") ?? ""
            guard let response = responses.response(id) else { throw APIError.notFound("No response with id '\(id)'.", code: "response_not_found") }
            return Self.json(response)
        }
        router.delete("v1/responses/:id") { _, context in
            let id = context.parameters.get("id") ?? ""
            guard responses.remove(id) else { throw APIError.notFound("No response with id '\(id)'.", code: "response_not_found") }
            return Self.json(Responses.object([("id", .string(id)), ("object", .string("response")), ("deleted", .bool(true))]))
        }
        for path in ["v1/chat/completions", "v1/completions", "v1/embeddings", "v1/responses", "v1/messages", "v1/messages/count_tokens"] {
            router.post(RouterPath(path)) { request, context -> Response in
                do {
                    // Parsed once: the model it names is found first, then its handler reads the rest.
                    let body = try FieldReader.object(json: try await Self.body(of: request, limit: limit))
                    let model = try await host.model(named: FieldReader(body).string("model"))
                    switch path {
                    case "v1/embeddings": return try await EmbeddingsHandler(model: model).handle(body: body)
                    case "v1/messages/count_tokens": return try MessagesHandler(model: model).countTokens(body: body)
                    default: break
                    }
                    return try await Self.generating(context, streamed: body["stream"] == .bool(true)) {
                        switch path {
                        case "v1/responses": try await ResponsesHandler(model: model, store: responses).handle(body: body)
                        case "v1/messages": try await MessagesHandler(model: model).handle(body: body)
                        default: try await CompletionHandler(model: model, scheduler: nil).handle(body: body, chat: path == "v1/chat/completions")
                        }
                    }
                } catch let error as APIError where path.hasPrefix("v1/messages") {
                    return Self.response(error, body: MessagesHandler.errorBody(error))
                }
            }
        }
        return router
    }

    /// Serves until SIGTERM or SIGINT, then lets running requests finish. `onBound` gets the address
    /// and port each time the server listens (at the start, and after `PUT /api/v1/server`).
    public func run(onBound: @escaping @Sendable (_ host: String, _ port: Int) async -> Void = { _, _ in }) async throws {
        let listening = ServiceListener(settings: listener, logger: Logger(label: "wick.server"),
                                        onBound: { setting in await onBound(setting.host, setting.port) }) { setting, bound in
            Application(router: makeRouter(cors: setting.cors), server: httpServer(),
                        configuration: .init(address: .hostname(setting.host, port: setting.port), serverName: "wick"),
                        onServerRunning: { channel in await bound(channel.localAddress?.port ?? 0) })
        }
        // The drain ends on its own after a signal and then shuts the server down; connections
        // still busy get a few more seconds.
        var group = ServiceGroupConfiguration(services: [.init(service: listening), .init(service: drain, successTerminationBehavior: .gracefullyShutdownGroup)],
                                              logger: Logger(label: "wick.server"))
        group.maximumGracefulShutdownDuration = .seconds(5)
        try await ServiceGroup(configuration: group).run()
    }

    /// HTTP/1.1, over TLS when certificates are configured, with each connection's limits
    /// (`ConnectionGuard`) and the header size limit.
    func httpServer() -> HTTPServerBuilder {
        let limits = ConnectionGuard.Limits(readTimeout: .seconds(Int64(configuration.readTimeoutSeconds)), maxConnections: configuration.maxConnections)
        let http = HTTP1Channel.Configuration(additionalChannelHandlers: [ConnectionGuard(limits: limits, connections: connections)],
                                              httpDecoderConfiguration: .init(maxHeaderFieldSize: configuration.maxHeaderBytes,
                                                                              maxHeaderListSize: configuration.maxHeaderBytes))
        return configuration.tls.map { certificates in
            HTTPServerBuilder { responder in ReloadingTLSChannel(base: HTTP1Channel(responder: responder, configuration: http), certificates: certificates) }
        } ?? .http1(configuration: http)
    }

    /// Runs a generating request's handler so that its generation stops when the client leaves
    /// (at the next step, instead of running to its end for nobody): a reply that is not streamed
    /// is cancelled, a stream's body is relayed (`DepartureRelay`); both wait on the connection's
    /// `Departure`.
    static func generating(_ context: WickRequestContext, streamed: Bool, _ reply: @escaping @Sendable () async throws -> Response) async throws -> Response {
        guard let departure = await context.departure() else { return try await reply() }
        guard !streamed else {
            var response = try await reply()
            response.body = DepartureRelay.body(response.body, departure: departure)
            return response
        }
        return try await withThrowingTaskGroup(of: Response.self) { group in
            group.addTask { try await reply() }
            group.addTask {
                await departure.untilClientLeaves()
                throw CancellationError()
            }
            defer { group.cancelAll() }
            guard let response = try await group.next() else { throw CancellationError() }
            return response
        }
    }

    /// A request's body as UTF-8 text, at most `limit` bytes: a larger one is refused by its
    /// `Content-Length` before any of it is read (413, and the connection closed), a body that is
    /// not UTF-8 or not valid HTTP framing is a 400.
    static func body(of request: Request, limit: Int) async throws -> String {
        let tooLarge = APIError(status: 413, message: "The request body is larger than \(limit) bytes.", type: "invalid_request_error", code: "request_too_large")
        if let declared = request.headers[.contentLength], declared.count > 18 || (Int(declared) ?? 0) > limit { throw tooLarge }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw tooLarge
        } catch {
            throw APIError.invalid("The request body could not be read: the connection broke or its HTTP framing is invalid.", code: "malformed_request")
        }
        guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else {
            throw APIError.invalid("The request body is not valid UTF-8.", code: "invalid_encoding")
        }
        return text
    }

    /// `/v1/models`: loaded instances, then downloaded models a request may load just in time,
    /// each with the context length it has (or would be loaded with).
    static func openAIModels(_ host: ModelHost) async -> [(id: String, value: Value)] {
        let instances = await host.instances
        var list = instances.map { i in
            (i.identifier, describe(id: i.identifier, contextLength: i.model.contextLength, trained: i.model.trainedContextLength, loaded: true))
        }
        guard host.settings.jitLoading, let store = host.store else { return list }
        let loadedKeys = Set(instances.compactMap(\.key))
        for stored in store.models() where !loadedKeys.contains(stored.key) {
            let trained = stored.facts()?.contextLength ?? 2048
            list.append((stored.key, describe(id: stored.key, contextLength: host.planner.defaultContextLength(trained: trained), trained: trained, loaded: false)))
        }
        return list
    }

    static func describe(id: String, contextLength: Int, trained: Int, loaded: Bool) -> Value {
        Responses.object([
            ("id", .string(id)), ("object", .string("model")), ("created", .int(0)), ("owned_by", .string("wick")),
            ("context_length", .int(contextLength)), ("max_context_length", .int(trained)), ("loaded", .bool(loaded)),
            ("capabilities", .array([.string("completion"), .string("chat"), .string("tool_use"), .string("embeddings")])),
        ])
    }

    /// A streamed answer: server-sent events, or Ollama's JSON lines. X-Accel-Buffering: nginx passes
    /// the pieces on as they come even where the proxy buffers.
    static func eventStream(_ body: ResponseBody, contentType: String = "text/event-stream") -> Response {
        Response(status: .ok, headers: [.contentType: contentType, .cacheControl: "no-cache", HTTPField.Name("X-Accel-Buffering")!: "no"], body: body)
    }

    /// An error's response: its body (OpenAI's shape unless `body` gives another) and `Retry-After`.
    static func response(_ error: APIError, body: Value? = nil) -> Response {
        var response = json(body ?? error.body, status: .init(code: error.status))
        if let seconds = error.retryAfter { response.headers[.retryAfter] = String(seconds) }
        // The rest of a refused body is not read: the connection cannot carry another request.
        if error.status == 413 { response.headers[.connection] = "close" }
        return response
    }

    static func json(_ v: Value, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: v.compactJSON)))
    }
}

/// Every failure becomes an OpenAI-format error with the right status; internals never leak.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return WickServer.response(error)
        } catch is CancellationError {
            // The client closed the connection: nobody reads this answer.
            context.logger.info("request cancelled: the client closed the connection")
            return WickServer.response(APIError.invalid("The client closed the connection.", code: "client_closed"))
        } catch let error as HTTPError {
            let api: APIError
            switch error.status {
            case .notFound: api = .notFound("Unknown route \(request.method) \(request.uri.path).", code: "unknown_route")
            case .methodNotAllowed: api = APIError(status: 405, message: "Method \(request.method) is not allowed on \(request.uri.path).", type: "invalid_request_error", code: "method_not_allowed")
            case .contentTooLarge: api = APIError(status: 413, message: "The request body is too large.", type: "invalid_request_error", code: "request_too_large")
            default: api = APIError(status: error.status.code, message: error.body ?? error.status.reasonPhrase, type: "invalid_request_error")
            }
            return WickServer.response(api)
        } catch {
            context.logger.error("request failed: \(error)")
            return WickServer.json(APIError.internalError().body, status: .internalServerError)
        }
    }
}

/// While the server drains before stopping, API requests get 503 `shutting_down` with `Retry-After`;
/// `/health` still answers (the process is alive).
struct DrainMiddleware<Context: RequestContext>: RouterMiddleware {
    let drain: ShutdownDrain

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if drain.isDraining, path.hasPrefix("/v1") || path.hasPrefix("/api/") {
            var error = APIError(status: 503, message: "The server is shutting down; retry on another instance or after it restarts.",
                                 type: "server_error", code: "shutting_down")
            error.retryAfter = 5
            throw error
        }
        return try await next(request, context)
    }
}

/// CORS for browser clients, including Chrome's private-network preflight.
struct CORSMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .options {
            var headers: HTTPFields = [:]
            headers[.accessControlAllowOrigin] = request.headers[.origin] ?? "*"
            headers[.accessControlAllowMethods] = "GET, POST, OPTIONS"
            headers[.accessControlAllowHeaders] = request.headers[.accessControlRequestHeaders] ?? "Authorization, Content-Type"
            headers[.accessControlMaxAge] = "600"
            headers[HTTPField.Name("Access-Control-Allow-Private-Network")!] = "true"
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        response.headers[.accessControlAllowOrigin] = request.headers[.origin] ?? "*"
        return response
    }
}
