import CLibevent
import PacerLBCore

#if canImport(Glibc)
import Glibc
#endif

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
    /// Client → backend (read from the client, waiting to be written to the backend), and back.
    var toBackend: Flow
    var toClient: Flow
    var connected = false
    var closed = false
    var backend: Backend?
    /// The connected backend's counters in this worker.
    var backendStats: BackendCell?
    var candidates: [Backend]

    static let flags = Int16(EV_READ | EV_WRITE | EV_PERSIST | EV_ET | EV_CLOSED)

    init(worker: Worker, service: Int, client: Int32, candidates: [Backend]) {
        self.worker = worker
        self.service = service
        cell = worker.cell(service)
        self.client = client
        self.candidates = candidates
        toBackend = Flow(source: .socket(client), buffer: evbuffer_new())
        toClient = Flow(source: .socket(-1), buffer: evbuffer_new())
    }

    var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }
    var limit: Int { worker.settings.limits.bufferBytes }

    /// The socket's one event for its whole life. The relay is passed unretained: the worker
    /// keeps it alive until `close`, which frees the events first.
    private func makeEvent(_ fd: Int32) -> OpaquePointer? {
        event_new(
            worker.base, fd, Self.flags,
            { fd, what, context in
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
    private func connectNext() {
        if let event = upstreamEvent {
            event_free(event)
            upstreamEvent = nil
        }
        if upstream >= 0 {
            Glibc.close(upstream)
            upstream = -1
        }
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
            toClient.source = .socket(fd)
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
            if Sockets.pendingError(fd) != 0 {
                connectNext()
                return
            }
            connected = true
            if let backend {
                backendStats = cell.backend(backend)
                backendStats?.opened()
            }
            event_add(upstreamEvent, worker.timeout(worker.settings.timeouts.idle))
            flushToBackend()
        }
        let peerClosed = what & Int16(EV_CLOSED) != 0
        if what & Int16(EV_READ | EV_CLOSED) != 0 {
            if fd == client { pumpFromClient(peerClosed: peerClosed) } else { pumpFromBackend(peerClosed: peerClosed) }
        }
        if !closed && what & Int16(EV_WRITE) != 0 {
            if fd == client { flushToClient() } else { flushToBackend() }
        }
        finishIfDone()
    }

    /// Reads what the client sent (until the backend's buffer is full) and sends it on once connected.
    private func pumpFromClient(peerClosed: Bool = true) {
        guard toBackend.fill(limit: limit, peerClosed: peerClosed) else { return close() }  // a reset: both sides go
        if connected { flushToBackend() }
    }

    private func pumpFromBackend(peerClosed: Bool = true) {
        guard toClient.fill(limit: limit, peerClosed: peerClosed) else { return close() }
        flushToClient()
    }

    /// Writes what waits for the backend; passes the client's EOF on once it is all out; reads
    /// the client again once there is room.
    private func flushToBackend() {
        guard !closed, connected else { return }
        guard let resume = toBackend.drain(to: .socket(upstream), limit: limit, counted: &cell.counters.bytesIn) else {
            return close()
        }
        if resume { pumpFromClient() }
    }

    private func flushToClient() {
        guard !closed else { return }
        guard let resume = toClient.drain(to: .socket(client), limit: limit, counted: &cell.counters.bytesOut) else {
            return close()
        }
        if resume { pumpFromBackend() }
    }

    /// Both directions ended and everything was delivered, or the client left before any backend
    /// could be reached.
    private func finishIfDone() {
        if !closed && toBackend.shut && toClient.shut { close() }
        if !closed && toBackend.eof && !connected && candidates.isEmpty && backend == nil { close() }
    }

    func close() {
        guard !closed else { return }
        closed = true
        backendStats?.closed()
        if let e = clientEvent { event_free(e) }
        if let e = upstreamEvent { event_free(e) }
        clientEvent = nil
        upstreamEvent = nil
        Glibc.close(client)
        if upstream >= 0 { Glibc.close(upstream) }
        evbuffer_free(toClient.buffer)
        evbuffer_free(toBackend.buffer)
        if let backend { worker.released(service, backend, failed: false) }
        worker.finished(self)
    }
}
