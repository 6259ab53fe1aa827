#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Logging
import Synchronization

/// Tells loaded models when their file is about to be truncated or written in place. Loaded files
/// hold read leases (`MappedBytes.takeReadLease`); a process that truncates or opens one for
/// writing waits until the lease is released (or the kernel's lease-break-time passes). The leases
/// are looked at every `interval` (the kernel also raises SIGIO, but to whichever thread took the
/// lease, where it may be ignored or lost with the thread, so it is not relied on). The models
/// whose files are changing are withdrawn at once, on the timer's own thread (their generations end
/// at the next step and read no more weights, whatever the rest of the process is doing), then
/// handed to `onWithdrawn` to be unloaded, which releases their mappings and lets the writer go on.
/// Without this, the next read of a page cut off the file would end the service with SIGBUS.
final class ModelFileWatch {
    private let source: any DispatchSourceTimer
    private let watched: Watched

    /// `onWithdrawn` gets the models a look withdrew.
    init(interval: DispatchTimeInterval = .milliseconds(250), onWithdrawn: @escaping @Sendable ([ChatModel]) -> Void) {
        let watched = Watched()
        self.watched = watched
        signal(SIGIO, SIG_IGN)  // raised when a lease is broken; its default action ends the process
        source = DispatchSource.makeTimerSource(queue: .global())
        source.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(50))
        source.setEventHandler {
            let changed = watched.withdrawChanged()
            if !changed.isEmpty { onWithdrawn(changed) }
        }
        source.resume()
    }

    deinit { source.cancel() }

    /// Watches a loaded model whose file is leased.
    func watch(_ model: ChatModel) { watched.add(model) }

    /// Withdraws the watched models whose files are changing (a change that began during a load
    /// was signalled before its model was watched) and returns them.
    func withdrawChanged() -> [ChatModel] { watched.withdrawChanged() }

    private final class Watched: Sendable {
        private struct Entry: Sendable { weak var model: ChatModel? }
        private let entries = Mutex<[Entry]>([])
        private let logger = Logger(label: "wick.host")

        func add(_ model: ChatModel) {
            entries.withLock { $0 = $0.filter { $0.model != nil } + [Entry(model: model)] }
        }

        func withdrawChanged() -> [ChatModel] {
            let changed = entries.withLock { entries -> [ChatModel] in
                let changed = entries.compactMap(\.model).filter(\.fileIsBeingChanged)
                entries.removeAll { entry in entry.model.map { m in changed.contains { $0 === m } } ?? true }
                return changed
            }
            for model in changed {
                logger.warning("the file of \(model.id) (\(model.path)) is being changed on disk: unloading it")
                model.withdraw(APIError(status: 503, message: "The file of '\(model.id)' (\(model.path)) is being changed on disk, so the model was unloaded. Send the request again to load the file as it is now.",
                                        type: "server_error", code: "model_file_changed"))
            }
            return changed
        }
    }
}
