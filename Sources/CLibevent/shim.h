// libevent and OpenSSL for Swift. <sys/types.h> comes first: event-config.h defines _GNU_SOURCE,
// and without this a clean build clashes with Glibc over fd_set (see LIBEVENT-NOTES.md).
#ifndef PACER_CLIBEVENT_SHIM_H
#define PACER_CLIBEVENT_SHIM_H
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/eventfd.h>
#include <netinet/in.h>
#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <event2/util.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>
#include <openssl/err.h>

#include <openssl/x509v3.h>

// Function-like macros and #defined types Swift cannot import are replaced at the call sites:
// evutil_socket_t is Int32 and evbuffer_iovec is iovec on Linux. OpenSSL's configuration macros
// (over SSL_CTX_ctrl / SSL_CTX_callback_ctrl) get small inline functions here.

/// TLS 1.2 and up; partial writes from a buffer that may move between retries; a peer closing
/// without close_notify is a plain EOF (OpenSSL 3 otherwise reports an error). Read-ahead: one
/// read() for several records instead of two per record (header, then body).
#define PACER_TLS12_CIPHERS "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

static inline void pacer_tls_configure(SSL_CTX *ctx) {
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* TLS 1.2: forward-secret AEAD suites only (no CBC: LUCKY13; no RSA key exchange). TLS 1.3's are all AEAD. */
    SSL_CTX_set_cipher_list(ctx, PACER_TLS12_CIPHERS);
}

/// A memory BIO that reports end-of-stream (0) once empty, instead of "retry later".
static inline void pacer_bio_mem_eof(BIO *bio) { BIO_set_mem_eof_return(bio, 0); }

/// Calls `cb` with the client's SNI name during the handshake (the certificate is picked there).
static inline void pacer_tls_on_servername(SSL_CTX *ctx, int (*cb)(SSL *, int *, void *), void *arg) {
    SSL_CTX_set_tlsext_servername_arg(ctx, arg);
    SSL_CTX_set_tlsext_servername_callback(ctx, cb);
}
#endif
