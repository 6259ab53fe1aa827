import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// What SIGTERM and SIGINT do: the server drains before it stops. From the signal on, new API
/// requests get 503 `shutting_down` with `Retry-After` (a load balancer or client goes elsewhere)
/// and `/ready` says not ready, while the running ones finish; once none runs, or after
/// `seconds`, the service group is shut down gracefully (connections still busy then are cut
/// after the group's own bound).
final class ShutdownDrain: Service, Sendable {
    let seconds: Int
    private let running: @Sendable () -> Int
    private let logger: Logger
    private let draining = Atomic<Bool>(false)

    /// `running`: the requests still in progress (waiting for inference or generating).
    init(seconds: Int, logger: Logger, running: @escaping @Sendable () -> Int) {
        self.seconds = seconds
        self.logger = logger
        self.running = running
    }

    var isDraining: Bool { draining.load(ordering: .relaxed) }

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        try await cancelWhenGracefulShutdown {
            var iterator = signals.makeAsyncIterator()
            guard let signal = await iterator.next() else { return }
            self.draining.store(true, ordering: .relaxed)
            self.logger.info("\(signal): draining (\(self.running()) requests running, at most \(self.seconds) s); new requests get 503")
            let deadline = ContinuousClock.now + .seconds(self.seconds)
            while self.running() > 0 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            self.logger.info(self.running() == 0 ? "drained: stopping" : "drain time over with \(self.running()) requests running: stopping")
        }
    }
}
