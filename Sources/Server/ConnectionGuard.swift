import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import Synchronization

/// What one connection may cost the server, enforced on its HTTP parts (it sits after the HTTP
/// decoder): a bounded number of open connections (the next one gets a 503 and is closed); a
/// request's head, then its body, must arrive within the read timeout (a slow client is closed, with
/// a 408 when its head came but its body did not; a keep-alive connection idle that long is closed
/// silently, as nginx does); malformed HTTP gets a 400 (a 431 for oversized headers) in OpenAI's error
/// shape instead of an empty one; a response marked `Connection: close` closes the connection once
/// written, so a refused body (a 413 declared too large) is never waited for.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    struct Limits: Sendable {
        var readTimeout: TimeAmount
        var maxConnections: Int
    }

    /// Whether the client left: it closed its side of the connection, or the connection closed.
    /// Read by a reply running for it (`WickServer.generating`).
    final class Departure: Sendable {
        private struct State {
            var left = false
            var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
            var nextWaiter = 0
        }
        private let state = Mutex(State())
        var clientLeft: Bool { state.withLock { $0.left } }

        func record() {
            let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
                s.left = true
                defer { s.waiters = [:] }
                return Array(s.waiters.values)
            }
            for waiter in waiters { waiter.resume() }
        }

        /// Returns the moment the client leaves, or when the task is cancelled.
        func untilClientLeaves() async {
            let id = state.withLock { s in
                s.nextWaiter += 1
                return s.nextWaiter
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                    // A cancellation before this point finds no waiter to resume: checked here.
                    let now = state.withLock { s -> Bool in
                        if s.left || Task.isCancelled { return true }
                        s.waiters[id] = waiter
                        return false
                    }
                    if now { waiter.resume() }
                }
            } onCancel: {
                state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
            }
        }
    }

    /// The process's open connections, shared by every connection's guard.
    final class OpenConnections: Sendable {
        private let count = Atomic<Int>(0)
        var value: Int { count.load(ordering: .relaxed) }
        func add() -> Int { count.add(1, ordering: .relaxed).newValue }
        func remove() { count.subtract(1, ordering: .relaxed) }
    }

    private let limits: Limits
    private let connections: OpenConnections
    let departure = Departure()
    private var counted = false
    private var timer: Scheduled<Void>?
    /// A request's head arrived and its end did not yet.
    private var readingRequest = false
    /// The current request was answered (its response head written).
    private var answered = false
    /// A response head is written and its end is not.
    private var responding = false
    private var closeAfterResponse = false
    /// The guard answered the connection itself and closes it; later writes are dropped.
    private var tookOver = false

    init(limits: Limits, connections: OpenConnections) {
        self.limits = limits
        self.connections = connections
    }

    func handlerAdded(context: ChannelHandlerContext) {
        counted = true
        if connections.add() > limits.maxConnections {
            answer(context, status: .serviceUnavailable, code: "too_many_connections", type: "server_error",
                   message: "The server has \(limits.maxConnections) open connections, its limit; retry shortly.", retryAfter: 1)
            return
        }
        armTimer(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if counted { connections.remove() }
        counted = false
    }

    func channelInactive(context: ChannelHandlerContext) {
        departure.record()
        context.fireChannelInactive()
    }

    /// Connections allow half-closure, so a client that hangs up shows first as its input closing.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed? = event as? ChannelEvent { departure.record() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !tookOver else { return }
        switch unwrapInboundIn(data) {
        case .head:
            readingRequest = true
            answered = false
            armTimer(context)
        case .end:
            readingRequest = false
            disarmTimer()
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !tookOver else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        switch unwrapOutboundIn(data) {
        case .head(let head):
            responding = true
            answered = true
            if head.headerFields[.connection]?.lowercased() == "close" { closeAfterResponse = true }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            responding = false
            if closeAfterResponse {
                tookOver = true
                disarmTimer()
                context.writeAndFlush(data).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                promise?.succeed()
                return
            }
            context.write(data, promise: promise)
            if !readingRequest { armTimer(context) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let parse = error as? HTTPParserError, !responding, !tookOver {
            let tooLarge = parse == .headerOverflow
            answer(context, status: tooLarge ? .requestHeaderFieldsTooLarge : .badRequest,
                   code: tooLarge ? "headers_too_large" : "malformed_request", type: "invalid_request_error",
                   message: tooLarge ? "The request's headers are too large." : "The request is not valid HTTP/1.1 (\(parse)).")
        }
        context.fireErrorCaught(error)
    }

    /// The timer for what the connection waits for now: the next head (idle: closed silently) or the
    /// rest of the current request (a 408 when it is not answered yet).
    private func armTimer(_ context: ChannelHandlerContext) {
        disarmTimer()
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: limits.readTimeout) { [self] in
            timer = nil
            guard !tookOver else { return }
            if readingRequest && !answered {
                answer(context, status: .requestTimeout, code: "request_timeout", type: "invalid_request_error",
                       message: "The request was not received within \(limits.readTimeout.nanoseconds / 1_000_000_000) s.")
            } else if !responding {
                tookOver = true
                context.close(promise: nil)
            }
        }
    }

    private func disarmTimer() {
        timer?.cancel()
        timer = nil
    }

    /// Writes an error response of the guard's own and closes the connection.
    private func answer(_ context: ChannelHandlerContext, status: HTTPResponse.Status, code: String, type: String, message: String,
                        retryAfter: Int? = nil) {
        tookOver = true
        disarmTimer()
        var error = APIError(status: status.code, message: message, type: type, code: code)
        error.retryAfter = retryAfter
        let body = ByteBuffer(string: error.body.compactJSON)
        var headers: HTTPFields = [.contentType: "application/json", .connection: "close", .contentLength: String(body.readableBytes)]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        context.write(wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}

@available(*, unavailable)
extension ConnectionGuard: Sendable {}
