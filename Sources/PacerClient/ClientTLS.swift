import NIOSSL
import Synchronization

/// How this process's HTTPS clients verify servers and present themselves: the system's trust
/// roots plus the cluster's CA (`--ca`), and the part's own certificate when its peers require
/// client certificates (mutual TLS). Set once at the start of a part, before its first request:
/// the shared clients read it when they are made.
public enum ClientTLS {
    private static let state = Mutex(TLSConfiguration.makeClientConfiguration())

    public static var configuration: TLSConfiguration { state.withLock { $0 } }

    /// `ca`: a PEM file of CA certificates to trust besides the system's; `certificate`/`key`:
    /// presented to servers that ask for a client certificate.
    public static func configure(ca: String?, certificate: String?, key: String?) throws {
        let c = try make(ca: ca, certificate: certificate, key: key)
        state.withLock { $0 = c }
    }

    /// A client configuration: TLS 1.2+, the system's roots plus `ca`, and a client certificate.
    public static func make(ca: String?, certificate: String?, key: String?) throws -> TLSConfiguration {
        var c = TLSConfiguration.makeClientConfiguration()
        c.minimumTLSVersion = .tlsv12
        c.shutdownTimeout = .milliseconds(500)  // as the servers' (ServerTLS): no 5 s wait per closing peer
        if let ca { c.additionalTrustRoots = [.file(ca)] }
        if let certificate, let key {
            c.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
            c.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        }
        return c
    }
}
