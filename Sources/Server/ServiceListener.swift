#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Serves the `ListenerSettings` and carries out their changes while the service runs. Each setting
/// is served by its own application: a change closes the listening socket of the one serving, binds
/// the new one on the same port, and lets the old one finish the requests it holds (a running stream
/// goes on to its end). When the new address cannot be bound, the old setting is served again and
/// the change fails.
struct ServiceListener: Service {
    /// An application serving a setting; `onBound` gets the port once it listens.
    typealias MakeApplication = @Sendable (ListenerSettings.Setting, _ onBound: @escaping @Sendable (Int) async -> Void) -> any Service

    let settings: ListenerSettings
    let logger: Logger
    let onBound: @Sendable (ListenerSettings.Setting) async -> Void
    let makeApplication: MakeApplication

    func run() async throws {
        try await withThrowingDiscardingTaskGroup { tasks in
            var serving = try await serve(settings.setting, in: &tasks)
            settings.startServing()
            for await change in settings.changes.cancelOnGracefulShutdown() {
                let previous = settings.setting
                var wanted = change.setting
                wanted.port = previous.port
                await serving.triggerGracefulShutdown()
                do {
                    serving = try await serve(wanted, in: &tasks)
                    logger.info("now serving on \(wanted.host):\(wanted.port)\(wanted.cors ? " with CORS" : "")")
                    change.reply.resume(returning: settings.setting)
                } catch {
                    logger.warning("cannot serve on \(wanted.host):\(wanted.port) (\(error)); serving on \(previous.host):\(previous.port) again")
                    serving = try await serve(previous, in: &tasks)
                    change.reply.resume(throwing: error)
                }
            }
            settings.stopServing()
            for await change in settings.changes { change.reply.resume(throwing: ListenerSettings.ChangeError.notServing) }
            await serving.triggerGracefulShutdown()
        }
    }

    /// Starts an application for `setting` and waits until it listens. Binding is retried for a
    /// moment: the socket of the application it replaces closes as that one begins to stop.
    private func serve(_ setting: ListenerSettings.Setting, in tasks: inout ThrowingDiscardingTaskGroup<any Error>) async throws -> ServiceGroup {
        var attempt = 0
        while true {
            attempt += 1
            let (bound, reportBound) = AsyncStream<Result<Int, any Error>>.makeStream()
            let listening = Flag()
            let application = makeApplication(setting) { port in
                listening.set()
                reportBound.yield(.success(port))
            }
            let group = ServiceGroup(configuration: .init(services: [application], logger: logger))
            tasks.addTask {
                do {
                    try await group.run()
                } catch let error where !listening.isSet {
                    reportBound.yield(.failure(error))  // it never listened: the caller decides
                }
                reportBound.finish()
            }
            var outcome: Result<Int, any Error>?
            for await result in bound {
                outcome = result
                break
            }
            switch outcome {
            case .success(let port)?:
                var served = setting
                served.port = port
                settings.served(served)
                await onBound(served)
                return group
            case .failure(let error as IOError)? where error.errnoCode == EADDRINUSE:
                guard attempt < 40 else { throw ListenerSettings.ChangeError.addressInUse(host: setting.host, port: setting.port) }
                try await Task.sleep(for: .milliseconds(50))
            case .failure(let error)?:
                throw error
            case nil:
                throw CancellationError()
            }
        }
    }

    private final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .relaxed) }
        var isSet: Bool { value.load(ordering: .relaxed) }
    }
}
