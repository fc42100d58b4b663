import CLibevent
import PacerLBCore

#if canImport(Glibc)
import Glibc
#endif

/// One client connection in HTTP mode: requests are parsed strictly, routed one at a time
/// (pipelined ones wait in the input buffer, B17), sent on a pooled or new backend connection,
/// and answered in order. Owned by one worker thread; one edge-triggered event on the socket.
/// What happens next is decided by `machine` (PacerLBCore's `HTTPConnection`); this shell moves
/// the bytes and carries its actions out.
final class HTTPSession {
    enum Entry {
        case service(Int)
        case virtualHost
    }

    // unowned(unsafe): the worker owns every session and outlives it; a checked unowned reference
    // costs an atomic retain on each of the many accesses per request.
    unowned(unsafe) let worker: Worker
    let client: Int32
    let entry: Entry
    let clientKey: UInt64
    var clientEvent: OpaquePointer?
    /// Header, keep-alive and linger deadlines.
    var timer: OpaquePointer?
    let input: OpaquePointer
    let output: OpaquePointer
    let forwarding: HeadWriter.Forwarding
    /// TLS on the client side (the HTTPS listener); nil for plain HTTP.
    let tls: TLSConnection?
    var machine: HTTPConnection
    /// The machine's timer generation the libevent timer was last set for.
    private var armedGeneration = 0
    /// The client's bytes: `input`, read from the client's socket (or TLS).
    var fromClient: Flow
    // Reused for every request: no allocation per request once warm.
    var fields: [HeaderField] = []
    var tokens: [Range<Int>] = []
    var scratch: [UInt8] = []
    var scanResume = 0
    var exchange: Exchange?
    /// Counters of the service the latest request went to (bytes are counted against it).
    var cell: ServiceCell?
    var upstream: Upstream?
    /// Reading the upstream again after the client drained (`flushClient`), and whether a nested
    /// drain asked for another round: the loop there replaces what was a recursion.
    private var resumingUpstream = false
    private var resumeAgain = false

    /// The request in flight and the data its bytes need (what happens next is `machine`'s).
    /// A class: it is handed around on every event of a request, and copying a struct of this
    /// many references showed up as 2% of the proxy's CPU.
    final class Exchange {
        let route: WorkerRoute
        var backend: Backend
        /// What the balancer chose (released when the exchange ends); nil when none was chosen.
        var picked: Backend?
        /// Backends still to try if this one cannot be reached (worked out on the first failure).
        var candidates: [Backend]?
        var method: RequestHead.Method
        var clientMinor: Int
        var request: BodyProgress
        var response: ResponseHead?
        var responseBody = BodyProgress(.none)
        /// A copy of the head, kept until the first response byte for one retry on a fresh
        /// connection (idempotent requests without a body only).
        var retryHead: [UInt8]?
        var stickyCookie: [UInt8] = []
        var started: Double
        var service: Int { route.port }
        var cell: ServiceCell { route.cell }

        init(
            route: WorkerRoute, backend: Backend, picked: Backend?, candidates: [Backend]?, method: RequestHead.Method,
            clientMinor: Int, request: BodyProgress, started: Double
        ) {
            self.route = route
            self.backend = backend
            self.picked = picked
            self.candidates = candidates
            self.method = method
            self.clientMinor = clientMinor
            self.request = request
            self.started = started
        }
    }

    init(
        worker: Worker, client: Int32, entry: Entry, peer: UnsafeMutablePointer<sockaddr>?, localPort: Int,
        tls: TLSConnection? = nil
    ) {
        self.worker = worker
        self.client = client
        self.entry = entry
        self.tls = tls
        clientKey = Sockets.clientKey(peer)
        forwarding = HeadWriter.Forwarding(
            clientAddress: Sockets.addressString(peer), proto: tls == nil ? "http" : "https",
            port: localPort)
        input = evbuffer_new()
        output = evbuffer_new()
        fromClient = Flow(source: tls.map { .tls($0) } ?? .socket(client), buffer: input)
        machine = HTTPConnection(
            timeouts: .init(request: worker.settings.timeouts.httpRequest, keepAlive: worker.settings.timeouts.keepAlive),
            now: worker.monotonicNow())
    }

    var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }
    var settings: LBConfig { worker.settings }

    func start() {
        evutil_make_socket_nonblocking(client)
        Sockets.noDelay(client)
        clientEvent = event_new(
            worker.base, client, TCPRelay.flags,
            { _, what, ctx in
                Unmanaged<HTTPSession>.fromOpaque(ctx!).takeUnretainedValue().clientEvent(what)
            }, context)
        timer = event_new(
            worker.base, -1, 0,
            { _, _, ctx in
                Unmanaged<HTTPSession>.fromOpaque(ctx!).takeUnretainedValue().deadlinePassed()
            }, context)
        event_add(clientEvent, worker.timeout(settings.timeouts.idle))
        syncTimer()
    }

    /// Keeps the one libevent timer at the machine's deadline (called after events that may move it).
    func syncTimer() {
        guard machine.timerGeneration != armedGeneration, let timer else { return }
        armedGeneration = machine.timerGeneration
        if let seconds = machine.timerSeconds { event_add(timer, worker.timeout(seconds)) } else { event_del(timer) }
    }

    /// The LB is stopping: a connection waiting for a request gets at most a second more.
    func stopping() {
        machine.onStopping(now: worker.monotonicNow())
        syncTimer()
    }

    private func deadlinePassed() {
        switch machine.onDeadline(now: worker.monotonicNow(), buffered: evbuffer_get_length(input)) {
        case .none: break
        case .close: close()
        case .answer(let error): answer(error)
        case .rearm(let seconds):
            var tv = Sockets.timeval(seconds)
            event_add(timer, &tv)
        }
        syncTimer()
    }

    func clientEvent(_ what: Int16) {
        guard !machine.isClosed else { return }
        defer { syncTimer() }
        if what & Int16(EV_TIMEOUT) != 0 {
            close()
            return
        }
        if what & Int16(EV_READ | EV_CLOSED) != 0 {
            if machine.isTunnel {
                tunnelFromClient(peerClosed: what & Int16(EV_CLOSED) != 0)
            } else {
                readClient(peerClosed: what & Int16(EV_CLOSED) != 0)
                process()
            }
        }
        if !machine.isClosed && what & Int16(EV_WRITE) != 0 {
            flushClient()
            // TLS may have been waiting to send (handshake) before it could read on.
            if let tls, tls.readWantsWrite, machine.readsRequests {
                readClient()
                process()
            }
        }
    }

    /// Writes `output` to the client, through TLS when it is on.
    func send(counted: inout Int) -> EventIO.Drain { fromClient.source.write(output, counted: &counted) }

    /// No more bytes to the client (close_notify first under TLS).
    private func shutdownClient() { fromClient.source.shutdownWrite() }

    /// Reads what the client sent, up to the buffer limit (then pauses until it is consumed). A
    /// lingering connection reads only to discard, until the client closes.
    func readClient(peerClosed: Bool = true) {
        guard !machine.isClosed else { return }
        let lingering = machine.state == .lingering
        guard fromClient.fill(limit: settings.limits.bufferBytes, peerClosed: peerClosed, discard: lingering) else {
            return close()
        }
        if lingering { process() }
    }

    /// Advances whatever the buffered client bytes allow: the next request head, or the body of
    /// the request in flight.
    func process() {
        while true {
            switch machine.onClientInput(buffered: evbuffer_get_length(input), eof: fromClient.eof, now: worker.monotonicNow()) {
            case .wait: return
            case .close: return close()
            case .parseHead: guard beginRequest() else { return }
            case .forwardBody: return forwardRequestBody()
            }
        }
    }

    /// Moves request body bytes toward the backend and writes them, in a loop (not by recursion:
    /// a body may be gigabytes), until the body is done, the backend's socket is full (its write
    /// event resumes this), or the client has nothing more for now (its read event does).
    func forwardRequestBody() {
        guard let up = upstream, let ex = exchange else { return }
        while true {
            let room = settings.limits.bufferBytes - evbuffer_get_length(up.output)
            if room > 0 && !ex.request.isDone {
                do { _ = try EventIO.moveBody(input, to: up.output, &ex.request, limit: room) } catch {
                    return fail(error)
                }
            }
            guard up.connected else { return }  // sent once the connect completes
            guard up.flush(counted: &cell!.counters.bytesIn) else { return upstreamBroke(up) }
            if ex.request.isDone || evbuffer_get_length(up.output) >= settings.limits.bufferBytes / 2 { return }
            if evbuffer_get_length(input) > 0 { continue }
            if fromClient.eof { return abort() }  // the body was cut short
            guard fromClient.paused else { return }
            fromClient.paused = false
            readClient()
            if evbuffer_get_length(input) == 0 { return }
        }
    }

    func flushClient() {
        guard !machine.isClosed else { return }
        var written = 0
        defer { cell?.counters.bytesOut += written }
        switch send(counted: &written) {
        case .failed: return close()
        case .blocked: return
        case .empty: break
        }
        if machine.onClientFlushed(now: worker.monotonicNow()) {
            // The last answer is out: half-close, then read and discard until the client closes.
            shutdownClient()
            readClient()
            return
        }
        guard let up = upstream, up.incoming.resume(backlog: output, limit: settings.limits.bufferBytes) else { return }
        // Reading the upstream forwards to the client and flushes it, which resumes the upstream
        // again: as a recursion that was one level per buffer, and a 256 MiB body to a fast
        // client overflowed a worker's stack at ~190 MiB (SIGSEGV in evbuffer_write_atmost under
        // thousands of flushClient → upstreamReadable → handleResponse frames). A nested resume
        // now only asks the outermost one for another round.
        if resumingUpstream {
            resumeAgain = true
            return
        }
        resumingUpstream = true
        defer { resumingUpstream = false }
        repeat {
            resumeAgain = false
            if machine.isTunnel { tunnelFromUpstream(up, peerClosed: true) } else { upstreamReadable(up, peerClosed: true) }
        } while resumeAgain && upstream === up && !machine.isClosed
    }

    /// Something failed: answers with an error of the LB's own and closes, or — once an answer is
    /// under way — cuts the connection short. Nothing further is read from this client.
    func fail(_ error: HTTPError) {
        carryOut(machine.onFailed(error))
    }

    func carryOut(_ action: HTTPConnection.AnswerAction) {
        switch action {
        case .none: break
        case .answer(let error): answer(error)
        case .abort: abort()
        }
    }

    /// Writes the LB's own error answer (the machine is already closing) and ends the request's accounting.
    func answer(_ error: HTTPError) {
        if let ex = exchange {
            ex.cell.answered(status: error.status, generated: true)
            worker.ended(ex)
        }
        dropUpstream()
        exchange = nil
        EventIO.add(output, error.response)
        flushClient()
    }

    /// Sends a complete response of the LB's own (a redirect) and closes once it is out.
    func answerAndClose(_ bytes: [UInt8]) {
        guard machine.onOwnAnswer() else { return }
        EventIO.add(output, bytes)
        flushClient()
    }

    /// Ends the connection at once: used when an answer was already under way.
    func abort() {
        _ = machine.onAbort()
        if let ex = exchange {
            ex.cell.failed()
            worker.ended(ex)
        }
        exchange = nil
        // What already came from the backend still goes out (best effort), then the close tells
        // the client the response was cut short.
        var written = 0
        _ = send(counted: &written)
        close()
    }

    private func dropUpstream() {
        if let up = upstream {
            worker.released(up, reusable: false)
            upstream = nil
        }
    }

    func close() {
        guard timer != nil else { return }  // closed already
        machine.onClosed()
        dropUpstream()
        if let e = clientEvent { event_free(e) }
        if let t = timer { event_free(t) }
        clientEvent = nil
        timer = nil
        Glibc.close(client)
        evbuffer_free(input)
        evbuffer_free(output)
        worker.finished(self)
    }
}
