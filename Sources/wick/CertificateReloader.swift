#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import Server

/// Reloads the service's TLS certificate and key on SIGHUP (after a renewal), logging the outcome;
/// a file that fails to load leaves the previous certificate serving.
final class CertificateReloader {
    private let source: any DispatchSourceSignal

    init(_ certificates: TLSCertificates) {
        signal(SIGHUP, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler {
            do {
                try certificates.reload()
                print("wick: reloaded the TLS certificate \(certificates.certificateFile)")
            } catch {
                FileHandle.standardError.write(Data("wick: kept the previous TLS certificate, the new one failed to load: \(error)\n".utf8))
            }
        }
        source.resume()
    }

    func cancel() { source.cancel() }
}
