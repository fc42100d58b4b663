import CLibevent

#if canImport(Glibc)
import Glibc
#endif

/// What one non-blocking read did, as a value (swift-nio's `IOResult`, plus the two ends a stream
/// can reach) instead of `-1` and an `errno` that the next call may overwrite.
enum IOResult: Equatable {
    case processed(Int)
    /// Nothing more for now: the next edge says when.
    case wouldBlock
    /// The peer finished sending (FIN, or TLS close_notify).
    case eof
    /// A reset or another hard error (the errno).
    case failed(Int32)

    /// The result of a `read`-like call returning `n` (errno is read at once, before anything else
    /// can change it).
    init(_ n: Int) {
        if n > 0 {
            self = .processed(n)
        } else if n == 0 {
            self = .eof
        } else {
            let code = errno
            self = code == EAGAIN || code == EWOULDBLOCK || code == EINTR ? .wouldBlock : .failed(code)
        }
    }
}

/// One side of a connection: a plain socket, or TLS over one.
enum Endpoint {
    case socket(Int32)
    case tls(TLSConnection)

    func read(into buffer: OpaquePointer) -> IOResult {
        switch self {
        case .socket(let fd): return EventIO.read(fd, into: buffer)
        case .tls(let tls): return tls.read(into: buffer)
        }
    }

    /// After a read of `n` bytes: whether the socket is now empty, so that (edge-triggered) the
    /// next bytes raise a new edge and no second read is needed just to hear EAGAIN. For TLS: the
    /// last network read was short and every record from it is decrypted.
    func drained(after n: Int) -> Bool {
        switch self {
        case .socket: return n < EventIO.readSize
        case .tls(let tls): return tls.drained && !tls.hasPending
        }
    }

    /// Writes what `buffer` holds until it is empty or the socket is full.
    func write(_ buffer: OpaquePointer, counted: inout Int) -> EventIO.Drain {
        switch self {
        case .socket(let fd): return EventIO.write(buffer, to: fd, counted: &counted)
        case .tls(let tls): return tls.write(buffer, counted: &counted)
        }
    }

    /// No more bytes this way (close_notify first under TLS); reading goes on.
    func shutdownWrite() {
        switch self {
        case .socket(let fd): shutdown(fd, Int32(SHUT_WR))
        case .tls(let tls):
            tls.shutdown()
            shutdown(tls.fd, Int32(SHUT_WR))
        }
    }
}

/// One direction of a connection: bytes read from `source` into `buffer`, to be parsed or written
/// on from there. The one place that knows how to read an edge-triggered socket — until it is
/// drained, stopping at the buffer limit (`paused`, resumed by whoever empties the buffer) or at
/// the end of the stream (`eof`), and when the end has been passed on (`shut`). The HTTP
/// session's client side, an upstream's response side and both directions of a TCP relay are
/// each one of these.
struct Flow {
    var source: Endpoint
    let buffer: OpaquePointer
    /// The source ended; nothing more is read.
    private(set) var eof = false
    /// Reading stopped because the buffer was full.
    var paused = false
    /// The end was passed on to the other side (shutdown for writing).
    private(set) var shut = false

    init(source: Endpoint, buffer: OpaquePointer) {
        self.source = source
        self.buffer = buffer
    }

    /// Reads until the source is drained, `buffer` holds `limit` bytes (then `paused`), or the
    /// stream ends (then `eof`). `peerClosed` (EPOLLRDHUP, or not known): the FIN may have come
    /// with the data and raises no edge of its own, so read on to EOF instead of stopping at a
    /// short read. `discard` throws the bytes away as they come (a closing connection lingering).
    /// Returns false on a hard error.
    mutating func fill(limit: Int, peerClosed: Bool, discard: Bool = false) -> Bool {
        while !eof {
            if discard {
                evbuffer_drain(buffer, evbuffer_get_length(buffer))
            } else if evbuffer_get_length(buffer) >= limit {
                paused = true
                return true
            }
            switch source.read(into: buffer) {
            case .processed(let n):
                if !peerClosed && source.drained(after: n) { return true }
            case .eof: eof = true
            case .wouldBlock: return true
            case .failed: return false
            }
        }
        return true
    }

    /// Clears `paused` once `backlog` (where this flow's bytes wait to be written) is below half
    /// of `limit`; true if the source should be read again.
    mutating func resume(backlog: OpaquePointer, limit: Int) -> Bool {
        guard paused, evbuffer_get_length(backlog) < limit / 2 else { return false }
        paused = false
        return true
    }

    /// Passes the end on to `sink` once everything read before it has been written.
    mutating func passEOF(to sink: Endpoint) {
        guard eof, !shut, evbuffer_get_length(buffer) == 0 else { return }
        sink.shutdownWrite()
        shut = true
    }

    /// Writes the buffer to `sink` (bytes added to `counted`), passes the end on once it is all
    /// out, and says whether the reader should read again (paused, and room again). Nil when the
    /// write failed.
    mutating func drain(to sink: Endpoint, limit: Int, counted: inout Int) -> Bool? {
        guard sink.write(buffer, counted: &counted) != .failed else { return nil }
        passEOF(to: sink)
        return resume(backlog: buffer, limit: limit)
    }

    /// The stream is to be treated as ended (the peer's close was seen another way).
    private mutating func markEOF() { eof = true }
}
