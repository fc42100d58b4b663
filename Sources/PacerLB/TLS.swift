import CLibevent
import PacerLBCore

#if canImport(Glibc)
import Glibc
#endif

/// A certificate that cannot be used, named so the operator knows which file to fix.
public struct TLSConfigError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "certificate \(path): \(reason)" }
}

/// The HTTPS listener's certificates, one OpenSSL context each; the client's SNI name picks the
/// context during the handshake (the first certificate when nothing matches). One per worker.
final class TLSContexts {
    var contexts: [OpaquePointer] = []
    /// Network reads of this worker's TLS connections land here before OpenSSL takes them.
    static let scratchSize = 65536
    let scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchSize, alignment: 16)

    init(_ certificates: [LBConfig.Certificate]) throws(TLSConfigError) {
        for c in certificates {
            guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw TLSConfigError(path: c.cert, reason: "no TLS context") }
            pacer_tls_configure(ctx)
            guard SSL_CTX_use_certificate_chain_file(ctx, c.cert) == 1 else {
                SSL_CTX_free(ctx)
                throw TLSConfigError(path: c.cert, reason: "cannot read a PEM certificate chain (\(Self.lastError()))")
            }
            guard SSL_CTX_use_PrivateKey_file(ctx, c.key, SSL_FILETYPE_PEM) == 1, SSL_CTX_check_private_key(ctx) == 1 else {
                SSL_CTX_free(ctx)
                throw TLSConfigError(
                    path: c.key, reason: "cannot read the PEM key or it does not match \(c.cert) (\(Self.lastError()))")
            }
            pacer_tls_on_servername(
                ctx,
                { ssl, _, arg in
                    Unmanaged<TLSContexts>.fromOpaque(arg!).takeUnretainedValue().select(ssl!)
                    return SSL_TLSEXT_ERR_OK
                }, Unmanaged.passUnretained(self).toOpaque())
            contexts.append(ctx)
        }
    }

    deinit {
        for ctx in contexts { SSL_CTX_free(ctx) }
        scratch.deallocate()
    }

    var primary: OpaquePointer? { contexts.first }

    /// Switches the connection to the certificate whose names cover the SNI name.
    private func select(_ ssl: OpaquePointer) {
        guard let name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) else { return }
        let length = strlen(name)
        for ctx in contexts {
            if let cert = SSL_CTX_get0_certificate(ctx), X509_check_host(cert, name, length, 0, nil) == 1 {
                SSL_set_SSL_CTX(ssl, ctx)
                return
            }
        }
    }

    /// The expiry (notAfter) and subject of the first certificate in a PEM chain file, for the
    /// expiry metric: a certificate that lapses silently is an outage of every HTTPS app at once.
    static func expiry(_ c: LBConfig.Certificate) throws(TLSConfigError) -> MetricsText.Certificate {
        guard let bio = BIO_new_file(c.cert, "r") else { throw TLSConfigError(path: c.cert, reason: "cannot open it") }
        defer { BIO_free(bio) }
        guard let x509 = PEM_read_bio_X509(bio, nil, nil, nil) else {
            throw TLSConfigError(path: c.cert, reason: "cannot read a PEM certificate (\(lastError()))")
        }
        defer { X509_free(x509) }
        var when = tm()
        guard let notAfter = X509_get0_notAfter(x509), ASN1_TIME_to_tm(notAfter, &when) == 1 else {
            throw TLSConfigError(path: c.cert, reason: "its notAfter date cannot be read")
        }
        var subject = [CChar](repeating: 0, count: 256)
        X509_NAME_oneline(X509_get_subject_name(x509), &subject, Int32(subject.count))
        let name = String(decoding: subject.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return MetricsText.Certificate(path: c.cert, subject: name, expires: Double(timegm(&when)))
    }

    static func lastError() -> String {
        let code = ERR_get_error()
        guard code != 0 else { return "unknown error" }
        var text = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &text, text.count)
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// TLS on a client socket, read and written through the same evbuffers as plain connections.
/// The handshake happens inside the first reads and writes (accept state).
final class TLSConnection {
    let ssl: OpaquePointer
    let fd: Int32
    /// Network bytes go through here: read by us (one read, "short read = drained", as on the
    /// plain path) instead of by OpenSSL, which cannot tell when the socket is empty without a
    /// read that fails with EAGAIN. Owned by `ssl`.
    let incoming: OpaquePointer
    unowned(unsafe) let contexts: TLSContexts  // per worker, outlives its connections
    /// The last read stopped because TLS had to send first (handshake, key update): a write edge
    /// must retry the read. Without this, every write edge would cost a read that finds nothing.
    var readWantsWrite = false
    /// The last network read emptied the socket (edge-triggered: more raises a new edge).
    var drained = false
    var networkEOF = false

    init?(_ contexts: TLSContexts, fd: Int32) {
        guard let primary = contexts.primary, let ssl = SSL_new(primary),
            let incoming = BIO_new(BIO_s_mem()), let outgoing = BIO_new_socket(fd, BIO_NOCLOSE)
        else { return nil }
        SSL_set_bio(ssl, incoming, outgoing)
        SSL_set_accept_state(ssl)
        self.ssl = ssl
        self.fd = fd
        self.incoming = incoming
        self.contexts = contexts
    }

    deinit { SSL_free(ssl) }

    /// Like `EventIO.read`: bytes decrypted into `buffer`; `.wouldBlock` when more network bytes
    /// are needed (or some must be sent first).
    func read(into buffer: OpaquePointer) -> IOResult {
        var readNetwork = false
        while true {
            let result = decrypt(into: buffer)
            if result != .wouldBlock || readWantsWrite { return result }
            // Nothing complete left: read the socket, unless this call already found it empty.
            if (readNetwork && drained) || networkEOF { return .wouldBlock }
            readNetwork = true
            let raw = Glibc.read(fd, contexts.scratch, TLSContexts.scratchSize)
            if raw < 0 { return IOResult(raw) }
            if raw == 0 {
                networkEOF = true
                pacer_bio_mem_eof(incoming)
                continue
            }
            drained = raw < TLSContexts.scratchSize
            BIO_write(incoming, contexts.scratch, Int32(raw))
        }
    }

    /// Decrypted or received bytes still inside OpenSSL or the incoming BIO.
    var hasPending: Bool { SSL_has_pending(ssl) != 0 || BIO_ctrl_pending(incoming) > 0 }

    /// One record's worth of plaintext from what has arrived, or why not.
    private func decrypt(into buffer: OpaquePointer) -> IOResult {
        var vec = iovec()
        guard evbuffer_reserve_space(buffer, 16384, &vec, 1) == 1 else { return .failed(ENOMEM) }
        ERR_clear_error()
        let n = SSL_read(ssl, vec.iov_base, Int32(min(vec.iov_len, Int(Int32.max))))
        readWantsWrite = n <= 0 && SSL_get_error(ssl, n) == SSL_ERROR_WANT_WRITE
        if n > 0 {
            vec.iov_len = Int(n)
            evbuffer_commit_space(buffer, &vec, 1)
            return .processed(Int(n))
        }
        return outcome(n)
    }

    /// Encrypts and sends what `buffer` holds, until it is empty or the socket is full.
    func write(_ buffer: OpaquePointer, counted: inout Int) -> EventIO.Drain {
        while evbuffer_get_length(buffer) > 0 {
            let chunk = min(evbuffer_get_length(buffer), 16384)
            guard let p = evbuffer_pullup(buffer, chunk) else { return .failed }
            ERR_clear_error()
            let n = SSL_write(ssl, p, Int32(chunk))
            if n > 0 {
                evbuffer_drain(buffer, Int(n))
                counted += Int(n)
                continue
            }
            return outcome(n) == .wouldBlock ? .blocked : .failed
        }
        return .empty
    }

    /// Sends close_notify (best effort: the socket is shut down right after).
    func shutdown() {
        ERR_clear_error()
        SSL_shutdown(ssl)
    }

    /// What a failed `SSL_read`/`SSL_write` means for the stream.
    func outcome(_ n: Int32) -> IOResult {
        switch SSL_get_error(ssl, n) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .wouldBlock
        case SSL_ERROR_ZERO_RETURN: return .eof
        case SSL_ERROR_SYSCALL where errno == 0: return .eof
        case SSL_ERROR_SYSCALL: return .failed(errno)
        default: return .failed(EPROTO)
        }
    }
}
