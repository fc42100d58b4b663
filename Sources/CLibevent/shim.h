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

// Function-like macros and #defined types Swift cannot import are replaced at the call sites:
// evutil_socket_t is Int32 and evbuffer_iovec is iovec on Linux.
#endif
