#if canImport(Glibc)
import Glibc
#endif
import Dispatch

/// Tells the model host when a loaded model's file is about to be truncated or written in place.
/// Loaded files hold read leases (`MappedBytes.takeReadLease`); a process that truncates or opens
/// one for writing waits while the kernel signals SIGIO here, and the host unloads the models whose
/// files are changing, which releases their mappings and lets the writer go on. Without this, the
/// next read of a page cut off the file would end the service with SIGBUS.
final class ModelFileWatch {
    private let source: any DispatchSourceSignal

    init(onChange: @escaping @Sendable () -> Void) {
        signal(SIGIO, SIG_IGN)  // its default action ends the process
        source = DispatchSource.makeSignalSource(signal: SIGIO, queue: .global())
        source.setEventHandler(handler: onChange)
        source.resume()
    }

    deinit { source.cancel() }
}
