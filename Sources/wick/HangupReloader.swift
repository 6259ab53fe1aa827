#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import Logging
import Server

/// What SIGHUP does to a running service: the API keys are read again from the key file (and the
/// environment) and the TLS certificate and key from theirs, each logged; a file that fails to
/// load leaves what was in use serving.
final class HangupReloader {
    private let source: any DispatchSourceSignal

    /// `keys` reads the configured keys again (nil: there is no key file to read).
    init(certificates: TLSCertificates?, keys: ServiceKeys, readKeys: (@Sendable () throws -> [String])?) {
        let logger = Logger(label: "wick.server")
        signal(SIGHUP, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler {
            if let readKeys {
                do {
                    let fresh = try readKeys()
                    keys.replace(with: fresh)
                    logger.info("SIGHUP: reloaded the API keys (\(fresh.count))")
                } catch {
                    logger.error("SIGHUP: kept the previous API keys, the key file failed to load: \(error)")
                }
            }
            if let certificates {
                do {
                    try certificates.reload()
                    logger.info("SIGHUP: reloaded the TLS certificate \(certificates.certificateFile)")
                } catch {
                    logger.error("SIGHUP: kept the previous TLS certificate, the new one failed to load: \(error)")
                }
            }
        }
        source.resume()
    }

    func cancel() { source.cancel() }
}
