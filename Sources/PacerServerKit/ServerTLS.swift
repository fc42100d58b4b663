import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import Synchronization

/// TLS on an API listener: the certificate and key files (PEM), TLS 1.2 or newer with BoringSSL's
/// modern cipher suites, and — for mutual TLS — a CA that every client certificate must chain to.
/// `reload()` (on SIGHUP) reads the files again: connections accepted from then on use the new
/// certificate, open ones keep theirs, nothing is dropped.
public final class ServerTLS: Sendable {
    public let certificate: String
    public let key: String
    /// Clients must present a certificate signed by this CA (mutual TLS); nil: any client.
    public let clientCA: String?
    private let context: Mutex<NIOSSLContext>

    public init(certificate: String, key: String, clientCA: String? = nil) throws(TLSFilesError) {
        self.certificate = certificate
        self.key = key
        self.clientCA = clientCA
        context = Mutex(try Self.context(certificate: certificate, key: key, clientCA: clientCA))
    }

    /// Reads the files again; on a mistake the listener keeps the certificate it had.
    public func reload() throws(TLSFilesError) {
        let fresh = try Self.context(certificate: certificate, key: key, clientCA: clientCA)
        context.withLock { $0 = fresh }
    }

    var current: NIOSSLContext { context.withLock { $0 } }

    /// The HTTP/1.1-over-TLS server for `Application(server:)`.
    public var server: HTTPServerBuilder {
        HTTPServerBuilder { responder in ReloadingTLSChannel(base: HTTP1Channel(responder: responder), tls: self) }
    }

    static let tls12Ciphers = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"
    ].joined(separator: ":")

    static func context(certificate: String, key: String, clientCA: String?) throws(TLSFilesError) -> NIOSSLContext {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
            var c = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
            c.minimumTLSVersion = .tlsv12
            // Closing a connection waits this long for the peer's close_notify (NIOSSL's default is
            // 5 s). Clients rarely send one, so a graceful stop with idle keep-alive connections
            // open took 5 s per listener (`pacer up --secure` took 12 s to stop, 1.3 s in clear).
            c.shutdownTimeout = .milliseconds(500)
            // TLS 1.2: forward-secret AEAD suites only (testssl flagged the CBC ones: LUCKY13).
            c.cipherSuites = Self.tls12Ciphers
            if let clientCA {
                c.certificateVerification = .noHostnameVerification
                c.trustRoots = .file(clientCA)
            }
            return try NIOSSLContext(configuration: c)
        } catch {
            throw TLSFilesError(message: "\(certificate), \(key)\(clientCA.map { ", " + $0 } ?? ""): \(error)")
        }
    }
}

public struct TLSFilesError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { "cannot use the TLS files " + message }
}

/// TLS in front of an HTTP child channel, with whatever context `ServerTLS` holds at accept time.
struct ReloadingTLSChannel<Base: ServerChildChannel>: ServerChildChannel, HTTPChannelHandler where Base: HTTPChannelHandler {
    typealias Value = Base.Value
    let base: Base
    let tls: ServerTLS

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let context = tls.current
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
        }.flatMap { base.setup(channel: channel, logger: logger) }
    }

    func handle(value: Value, logger: Logger) async { await base.handle(value: value, logger: logger) }

    var responder: HTTPChannelHandler.Responder { base.responder }
}

/// SIGHUP → `reload` on each listener's TLS (a certificate renewed on disk is served from then on).
public enum TLSReloadSignal {
    // Kept alive for the process's life (a released source stops delivering).
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    public static func install(_ tls: [ServerTLS], logger: Logger) {
        guard !tls.isEmpty else { return }
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler {
            for t in tls {
                do {
                    try t.reload()
                    logger.notice("TLS certificate reloaded", metadata: ["certificate": "\(t.certificate)"])
                } catch { logger.error("TLS reload failed; the previous certificate stays", metadata: ["error": "\(error)"]) }
            }
        }
        source.resume()
        sources.append(source)  // once per process, from its start, before anything concurrent
    }
}
