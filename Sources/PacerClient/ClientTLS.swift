import AsyncHTTPClient
import NIOSSL
import Synchronization

/// How this process's HTTPS clients verify servers and present themselves: the system's trust
/// roots plus the cluster's CA (`--ca`), and the part's own certificate when its peers require
/// client certificates (mutual TLS). Set once at the start of a part, before its first request:
/// the shared clients read it when they are made.
public enum ClientTLS {
    private struct State {
        var configuration = TLSConfiguration.makeClientConfiguration()
        /// Shared clients by name, made with `configuration`; `configure` empties it.
        var clients: [String: HTTPClient] = [:]
        /// Clients made with an earlier configuration: requests may still be using them, and an
        /// HTTPClient must be shut down before it is released. `configure` runs a few times per
        /// process at most, so this stays small.
        var retired: [HTTPClient] = []
    }
    private static let state = Mutex(State())

    public static var configuration: TLSConfiguration { state.withLock { $0.configuration } }

    /// `ca`: a PEM file of CA certificates to trust besides the system's; `certificate`/`key`:
    /// presented to servers that ask for a client certificate. Clients made by `shared` from now
    /// on use it — also when some were made before (a part that configures late, a test process
    /// whose first cluster spoke plain HTTP).
    public static func configure(ca: String?, certificate: String?, key: String?, alsoTrust: [String] = []) throws {
        var c = try make(ca: ca, certificate: certificate, key: key)
        c.additionalTrustRoots += alsoTrust.map { .file($0) }
        state.withLock { s in
            s.configuration = c
            s.retired += s.clients.values
            s.clients = [:]
        }
    }

    /// The process's client called `name`, made by `make` with the current configuration.
    public static func shared(_ name: String, make: (TLSConfiguration) -> HTTPClient) -> HTTPClient {
        state.withLock { s in
            if let client = s.clients[name] { return client }
            let client = make(s.configuration)
            s.clients[name] = client
            return client
        }
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
