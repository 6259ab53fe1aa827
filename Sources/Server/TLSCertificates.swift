import NIOSSL
import Synchronization

/// The service's certificate chain and private key (PEM files), as a TLS context that `reload()`
/// builds again from the files (on SIGHUP, after a renewal): new connections take the context current
/// when they arrive, open ones keep theirs, and files that fail to load leave the old context serving.
public final class TLSCertificates: Sendable {
    public let certificateFile: String
    public let keyFile: String
    private let current: Mutex<NIOSSLContext>

    public init(certificateFile: String, keyFile: String) throws {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        current = Mutex(try Self.context(certificateFile: certificateFile, keyFile: keyFile))
    }

    var context: NIOSSLContext { current.withLock { $0 } }

    public func reload() throws {
        let fresh = try Self.context(certificateFile: certificateFile, keyFile: keyFile)
        current.withLock { $0 = fresh }
    }

    static func context(certificateFile: String, keyFile: String) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.applicationProtocols = ["http/1.1"]
        return try NIOSSLContext(configuration: configuration)
    }
}
