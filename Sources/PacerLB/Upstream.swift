import CLibevent
import PacerLBCore

#if canImport(Glibc)
import Glibc
#endif

/// One connection to a backend for HTTP traffic. While a request uses it, its events go to that
/// session; while it waits in the worker's pool, any readable byte, close or timeout retires it
/// (a backend must not speak unasked). One edge-triggered event for its whole life.
final class Upstream {
    unowned(unsafe) let worker: Worker  // the worker owns every upstream and outlives it
    let fd: Int32
    let backend: Backend
    let service: Int
    var event: OpaquePointer?
    /// From the backend (the response), and toward it.
    var incoming: Flow
    let output: OpaquePointer
    var input: OpaquePointer { incoming.buffer }
    var connected = false
    /// Served a request before (so a silent close may just be a keep-alive race: retryable).
    var reused = false
    var closed = false
    var owner: HTTPSession?
    /// Its backend's counters in this worker.
    let stats: BackendCell

    init?(worker: Worker, backend: Backend, service: Int) {
        guard let fd = Sockets.connectNonBlocking(backend.host, backend.port) else { return nil }
        self.worker = worker
        self.fd = fd
        self.backend = backend
        self.service = service
        stats = worker.cell(service).backend(backend)
        stats.opened()
        incoming = Flow(source: .socket(fd), buffer: evbuffer_new())
        output = evbuffer_new()
        event = event_new(
            worker.base, fd, TCPRelay.flags,
            { _, what, context in
                Unmanaged<Upstream>.fromOpaque(context!).takeUnretainedValue().handle(what)
            }, Unmanaged.passUnretained(self).toOpaque())
        arm(worker.settings.timeouts.connect)
    }

    func arm(_ seconds: Double) {
        event_add(event, worker.timeout(seconds))
    }

    func handle(_ what: Int16) {
        guard !closed else { return }
        if let owner { return owner.upstreamEvent(self, what) }
        // Pooled: bytes, a close or the idle timeout retire it. A write edge (the backend
        // acknowledging the last request) is no reason to.
        if what & Int16(EV_READ | EV_CLOSED | EV_TIMEOUT) != 0 { worker.pool.retire(self) }
    }

    /// Completes a pending connect; false if it failed.
    func finishConnect() -> Bool {
        guard Sockets.pendingError(fd) == 0 else { return false }
        connected = true
        return true
    }

    func flush(counted: inout Int) -> Bool {
        guard connected else { return true }
        return EventIO.write(output, to: fd, counted: &counted) != .failed
    }

    func close() {
        guard !closed else { return }
        closed = true
        stats.closed()
        owner = nil
        if let event { event_free(event) }
        event = nil
        Glibc.close(fd)
        evbuffer_free(input)
        evbuffer_free(output)
        worker.upstreamClosed(self)
    }
}

/// Idle keep-alive connections per backend, owned by one worker. Last in, first out: the most
/// recently used connection is the least likely to have been closed by the backend.
struct UpstreamPool {
    var idle: [Backend: [Upstream]] = [:]
    var limit: Int
    var idleSeconds: Double

    mutating func take(_ backend: Backend) -> Upstream? {
        while let up = idle[backend]?.popLast() {
            if !up.closed { return up }
        }
        return nil
    }

    /// Keeps `up` for a later request, or closes it when the pool for its backend is full.
    mutating func put(_ up: Upstream) {
        up.owner = nil
        up.reused = true
        guard idle[up.backend, default: []].count < limit else {
            up.close()
            return
        }
        up.arm(idleSeconds)
        idle[up.backend, default: []].append(up)
    }

    fileprivate mutating func retire(_ up: Upstream) {
        idle[up.backend]?.removeAll { $0 === up }
        up.close()
    }

    /// Closes pooled connections to backends no longer in rotation.
    /// Closes the idle connections to backends that left the table.
    mutating func drop(_ backends: Set<Backend>) {
        for backend in backends {
            for up in idle.removeValue(forKey: backend) ?? [] { up.close() }
        }
    }

    mutating func closeAll() {
        let all = idle.values.flatMap { $0 }
        idle = [:]
        for up in all { up.close() }
    }
}
