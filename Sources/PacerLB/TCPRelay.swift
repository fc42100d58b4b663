#if canImport(Glibc)
import Glibc
#endif
import CLibevent
import PacerLBCore

/// One proxied TCP connection: client ⇄ backend. One edge-triggered event per socket, added once;
/// bytes move between evbuffers without copies; reading stops while the other side's buffer is
/// full (backpressure); a FIN is passed on with shutdown(SHUT_WR) once everything before it is
/// written. Owned by one worker thread.
final class TCPRelay {
    unowned(unsafe) let worker: Worker  // the worker owns every relay and outlives it
    let service: Int
    let cell: ServiceCell
    let client: Int32
    var upstream: Int32 = -1
    var clientEvent: OpaquePointer?
    var upstreamEvent: OpaquePointer?
    /// Bytes waiting to be written to the client, and to the backend.
    let toClient: OpaquePointer
    let toUpstream: OpaquePointer
    var clientEOF = false, upstreamEOF = false
    var clientShut = false, upstreamShut = false
    var clientPaused = false, upstreamPaused = false
    var connected = false
    var closed = false
    var backend: Backend?
    var candidates: [Backend]

    static let flags = Int16(EV_READ | EV_WRITE | EV_PERSIST | EV_ET | EV_CLOSED)

    init(worker: Worker, service: Int, client: Int32, candidates: [Backend]) {
        self.worker = worker
        self.service = service
        cell = worker.cell(service)
        self.client = client
        self.candidates = candidates
        toClient = evbuffer_new()
        toUpstream = evbuffer_new()
    }

    var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    /// The socket's one event for its whole life. The relay is passed unretained: the worker
    /// keeps it alive until `close`, which frees the events first.
    func makeEvent(_ fd: Int32) -> OpaquePointer? {
        event_new(worker.base, fd, Self.flags, { fd, what, context in
            Unmanaged<TCPRelay>.fromOpaque(context!).takeUnretainedValue().handle(fd: fd, what: what)
        }, context)
    }

    func start() {
        evutil_make_socket_nonblocking(client)
        Sockets.noDelay(client)
        clientEvent = makeEvent(client)
        event_add(clientEvent, worker.timeout(worker.settings.timeouts.idle))
        connectNext()
    }

    /// Tries the next candidate backend; with none left, the client is closed.
    func connectNext() {
        if let event = upstreamEvent { event_free(event); upstreamEvent = nil }
        if upstream >= 0 { Glibc.close(upstream); upstream = -1 }
        if let failed = backend { worker.released(service, failed, failed: true) }
        backend = nil
        while !candidates.isEmpty {
            let next = candidates.removeFirst()
            guard let fd = Sockets.connectNonBlocking(next.host, next.port) else {
                worker.released(service, next, failed: true)
                continue
            }
            backend = next
            upstream = fd
            upstreamEvent = makeEvent(fd)
            event_add(upstreamEvent, worker.timeout(worker.settings.timeouts.connect))
            return
        }
        close()
    }

    func handle(fd: Int32, what: Int16) {
        guard !closed else { return }
        if what & Int16(EV_TIMEOUT) != 0 {
            if fd == upstream && !connected { connectNext() } else { close() }
            return
        }
        if fd == upstream && !connected {
            guard what & Int16(EV_WRITE) != 0 || what & Int16(EV_READ) != 0 else { return }
            if Sockets.pendingError(fd) != 0 { connectNext(); return }
            connected = true
            event_add(upstreamEvent, worker.timeout(worker.settings.timeouts.idle))
            flush(to: upstream)
        }
        if what & Int16(EV_READ | EV_CLOSED) != 0 { pump(from: fd, peerClosed: what & Int16(EV_CLOSED) != 0) }
        if !closed && what & Int16(EV_WRITE) != 0 { flush(to: fd) }
        finishIfDone()
    }

    /// Reads from `fd` into the other side's output, until it would block, the peer's buffer is
    /// full, or the stream ends. `peerClosed` (EPOLLRDHUP, or unknown): the FIN may have come with
    /// the data and raises no further edge, so read on to EOF rather than stop at a short read.
    func pump(from fd: Int32, peerClosed: Bool = true) {
        let fromClient = fd == client
        if fromClient ? clientEOF : upstreamEOF { return }
        let destination = fromClient ? toUpstream : toClient
        while !closed {
            if evbuffer_get_length(destination) >= worker.settings.limits.bufferBytes {
                if fromClient { clientPaused = true } else { upstreamPaused = true }
                break
            }
            let n = EventIO.read(fd, into: destination)
            // Edge-triggered: a short read drained the socket (more data raises a new edge), so no
            // second read just to hear EAGAIN.
            if n > 0 { if n < EventIO.readSize && !peerClosed { break } else { continue } }
            if n == 0 {
                if fromClient { clientEOF = true } else { upstreamEOF = true }
                break
            }
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { break }
            close()  // reset or another hard error: both sides go
            return
        }
        let target = fromClient ? upstream : client
        if fromClient ? connected : true { flush(to: target) }
    }

    /// Writes what is queued for `fd`; passes on an EOF once its side's buffer is empty; resumes
    /// the paused reader once there is room again.
    func flush(to fd: Int32) {
        guard !closed, fd >= 0 else { return }
        let toClientSide = fd == client
        if !toClientSide && !connected { return }
        let buffer = toClientSide ? toClient : toUpstream
        var written = 0
        let drained = EventIO.write(buffer, to: fd, counted: &written)
        if toClientSide { cell.counters.bytesOut += written } else { cell.counters.bytesIn += written }
        if drained == .failed { return close() }
        let sourceEOF = toClientSide ? upstreamEOF : clientEOF
        if evbuffer_get_length(buffer) == 0 && sourceEOF {
            if toClientSide && !clientShut { shutdown(client, Int32(SHUT_WR)); clientShut = true }
            if !toClientSide && !upstreamShut { shutdown(upstream, Int32(SHUT_WR)); upstreamShut = true }
        }
        if evbuffer_get_length(buffer) < worker.settings.limits.bufferBytes / 2 {
            if toClientSide && upstreamPaused { upstreamPaused = false; pump(from: upstream) }
            if !toClientSide && clientPaused { clientPaused = false; pump(from: client) }
        }
    }

    /// Both directions ended and everything was delivered.
    func finishIfDone() {
        if !closed && clientShut && upstreamShut { close() }
        if !closed && clientEOF && !connected && candidates.isEmpty && backend == nil { close() }
    }

    func close() {
        guard !closed else { return }
        closed = true
        if let e = clientEvent { event_free(e) }
        if let e = upstreamEvent { event_free(e) }
        clientEvent = nil
        upstreamEvent = nil
        Glibc.close(client)
        if upstream >= 0 { Glibc.close(upstream) }
        evbuffer_free(toClient)
        evbuffer_free(toUpstream)
        if let backend { worker.released(service, backend, failed: false) }
        worker.finished(self)
    }
}

