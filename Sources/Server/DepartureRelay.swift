import Hummingbird
import NIOCore

/// A streamed body that stops the moment its client leaves. The body writes into a relay on a task
/// of its own while the response's task passes the relay's pieces to the connection; when the
/// connection's `Departure` says the client left, the relay ends and the body's task is cancelled,
/// so the generation it reads ends at its next step rather than at the next token written to a
/// closed socket (or, while a prompt is processed, the next keep-alive comment).
enum DepartureRelay {
    static func body(_ body: ResponseBody, departure: ConnectionGuard.Departure) -> ResponseBody {
        ResponseBody { writer in
            let (pieces, relay) = AsyncStream<ByteBuffer>.makeStream()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    defer { relay.finish() }
                    try await body.write(RelayWriter(relay: relay))
                }
                group.addTask {
                    await departure.untilClientLeaves()
                    relay.finish()
                }
                do {
                    for await piece in pieces { try await writer.write(piece) }
                } catch {
                    group.cancelAll()
                    throw error
                }
                // The client left: the body's task is cancelled. Otherwise the body ended its relay: it
                // is let finish (whatever it does after its last piece), then the watcher stops.
                if !departure.clientLeft { try await group.next() }
                group.cancelAll()
                try await group.waitForAll()
            }
            if !departure.clientLeft { try await writer.finish(nil) }
        }
    }

    /// The body's writer: pieces go to the relay; once the relay has ended, writing fails.
    private struct RelayWriter: ResponseBodyWriter {
        let relay: AsyncStream<ByteBuffer>.Continuation

        mutating func write(_ buffer: ByteBuffer) async throws {
            if case .terminated = relay.yield(buffer) { throw CancellationError() }
        }

        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
            relay.finish()
        }
    }
}
