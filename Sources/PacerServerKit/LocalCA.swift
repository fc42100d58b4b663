import Crypto
import Foundation
import SwiftASN1
import X509

#if canImport(Glibc)
import Glibc
#endif

/// `pacer up --secure`'s certificates: a CA made on first start and a certificate it signs for
/// the machine's parts, kept in `STATE_DIR/tls/`. Made in-process (swift-certificates), so a
/// machine without `openssl` still gets a cluster that speaks TLS only.
///
/// The CA is made once and kept: clients that trust `ca.pem` keep trusting a restarted cluster.
/// The parts' certificate is made again when it is missing, names other hosts than asked, or
/// expires within 30 days — a restart renews it, nothing else has to.
public struct LocalCA: Sendable {
    public let directory: String
    public var caPath: String { directory + "/ca.pem" }
    public var certificatePath: String { directory + "/server.pem" }
    public var keyPath: String { directory + "/server-key.pem" }
    private var caKeyPath: String { directory + "/ca-key.pem" }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public init(directory: String) { self.directory = directory }

    /// Makes what is missing or stale; returns whether the CA was made now.
    @discardableResult
    public func ensure(hosts: [String], now: Date = Date()) throws(Failure) -> Bool {
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            var madeCA = false
            let caKey: P256.Signing.PrivateKey
            let ca: Certificate
            if let keyPEM = try? String(contentsOfFile: caKeyPath, encoding: .utf8),
                let certPEM = try? String(contentsOfFile: caPath, encoding: .utf8)
            {
                caKey = try P256.Signing.PrivateKey(pemRepresentation: keyPEM)
                ca = try Certificate(pemEncoded: certPEM)
            } else {
                caKey = P256.Signing.PrivateKey()
                ca = try Self.makeCA(key: caKey, now: now)
                try Self.write(caKey.pemRepresentation, to: caKeyPath, mode: 0o600)
                try Self.write(try ca.serializeAsPEM().pemString, to: caPath, mode: 0o644)
                madeCA = true
            }
            if madeCA || !current(hosts: hosts, issuer: ca, now: now) {
                let key = P256.Signing.PrivateKey()
                let certificate = try Self.makeServer(key: key, hosts: hosts, ca: ca, caKey: caKey, now: now)
                try Self.write(key.pemRepresentation, to: keyPath, mode: 0o600)
                try Self.write(try certificate.serializeAsPEM().pemString, to: certificatePath, mode: 0o644)
            }
            return madeCA
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(
                description: "cannot make the local CA in \(directory): \(error) (remove the directory to start afresh)")
        }
    }

    /// Whether the parts' certificate exists, was signed by this CA, names every host and has
    /// more than 30 days left.
    private func current(hosts: [String], issuer: Certificate, now: Date) -> Bool {
        guard let pem = try? String(contentsOfFile: certificatePath, encoding: .utf8),
            let certificate = try? Certificate(pemEncoded: pem), FileManager.default.fileExists(atPath: keyPath),
            certificate.issuer == issuer.subject, certificate.notValidAfter > now.addingTimeInterval(30 * 86_400),
            let names = try? certificate.extensions.subjectAlternativeNames
        else { return false }
        let have = Set(names.map(Self.text))
        return hosts.allSatisfy { have.contains($0) }
    }

    private static func makeCA(key: P256.Signing.PrivateKey, now: Date) throws -> Certificate {
        let name = try DistinguishedName {
            OrganizationName("Pacer")
            CommonName("Pacer local CA \(ProcessInfo.processInfo.hostName)")
        }
        return try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(key.publicKey))
            },
            issuerPrivateKey: .init(key))
    }

    /// One certificate for every part on this machine, for serving and, where a peer asks for
    /// one, as a client certificate (mutual TLS). 397 days: what browsers accept at most.
    private static func makeServer(
        key: P256.Signing.PrivateKey, hosts: [String], ca: Certificate, caKey: P256.Signing.PrivateKey, now: Date
    ) throws -> Certificate {
        let names = try hosts.map { host -> GeneralName in
            if let bytes = ipBytes(host) { return .ipAddress(ASN1OctetString(contentBytes: bytes[...])) }
            guard !host.isEmpty else { throw Failure(description: "an empty host name for the certificate") }
            return .dnsName(host)
        }
        return try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(397 * 86_400),
            issuer: ca.subject,
            subject: try DistinguishedName {
                OrganizationName("Pacer")
                CommonName(hosts.first ?? "localhost")
            },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames(names)
                AuthorityKeyIdentifier(keyIdentifier: try ca.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: .init(caKey))
    }

    private static func ipBytes(_ host: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    private static func text(_ name: GeneralName) -> String {
        switch name {
        case .dnsName(let s): return s
        case .ipAddress(let octets):
            let bytes = Array(octets.bytes)
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            let family = bytes.count == 4 ? AF_INET : AF_INET6
            return bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) } != nil
                ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        default: return ""
        }
    }

    /// Written beside, then renamed: a crash never leaves half a key, and the mode is set
    /// before the secret is in the file.
    static func write(_ text: String, to path: String, mode: Int) throws {
        let temporary = path + ".new"
        guard FileManager.default.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: mode]),
            let handle = FileHandle(forWritingAtPath: temporary)
        else {
            throw Failure(description: "cannot write \(temporary)")
        }
        try handle.write(contentsOf: Data(text.utf8))
        try handle.synchronize()
        try handle.close()
        guard rename(temporary, path) == 0 else { throw Failure(description: "cannot rename \(temporary): errno \(errno)") }
    }

    /// A secret kept in a file of its own (0600), made on first use: the admin token of
    /// `pacer up --secure`.
    public static func secret(at path: String, make: () -> String) throws(Failure) -> String {
        if let existing = try? String(contentsOfFile: path, encoding: .utf8) {
            let value = existing.trimmingCharacters(in: .whitespacesAndNewlines)
            if !value.isEmpty { return value }
        }
        let value = make()
        do { try write(value + "\n", to: path, mode: 0o600) } catch {
            throw Failure(description: "cannot write \(path): \(error)")
        }
        return value
    }
}
