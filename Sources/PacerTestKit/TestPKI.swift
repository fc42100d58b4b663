import Foundation
import PacerClient
import PacerServerKit

#if canImport(Glibc)
import Glibc
#endif

/// The certificates test clusters serve: one CA and one certificate for 127.0.0.1 and localhost
/// per test process (made by the same code as `pacer up --secure`), and this process's clients
/// trust the CA from the first use on — the `pacer` CLI it runs too (`PacerProcess.runToEnd` gives
/// it `PACER_CA`, as a user of such a cluster would export it).
public enum TestPKI {
    public static let files: LocalCA = {
        let ca = LocalCA(directory: NSTemporaryDirectory() + "pacer-test-pki-\(getpid())")
        do {
            try ca.ensure(hosts: ["127.0.0.1", "localhost"])
            try ClientTLS.configure(ca: ca.caPath, certificate: nil, key: nil)
        } catch {
            fatalError("the test CA: \(error)")
        }
        return ca
    }()

    /// A part's flags to serve HTTPS with the test certificate and trust the test CA.
    public static var serverArgs: [String] {
        ["--tls-cert", files.certificatePath, "--tls-key", files.keyPath, "--ca", files.caPath]
    }
}
