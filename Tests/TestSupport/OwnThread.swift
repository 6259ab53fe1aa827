import Foundation

/// Runs blocking `work` (a socket read, a file lock) on a thread of its own and awaits its result, so
/// it never holds one of the few cooperative threads (a 2-core machine has two) that a server or
/// another task under test needs.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}
