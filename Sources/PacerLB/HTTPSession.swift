import CLibevent
import PacerLBCore

#if canImport(Glibc)
import Glibc
#endif

/// One client connection in HTTP mode: requests are parsed strictly, routed one at a time
/// (pipelined ones wait in the input buffer, B17), sent on a pooled or new backend connection,
/// and answered in order. Owned by one worker thread; one edge-triggered event on the socket.
final class HTTPSession {
    enum Entry {
        case service(Int)
        case virtualHost
    }
    enum Phase { case waiting, readingHead, exchanging, tunnel, closing, lingering, closed }

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
    var phase = Phase.waiting
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

    /// The request in flight and what is known of its answer.
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
        var closeAfter: Bool
        var tunnel: Bool
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
            clientMinor: Int, closeAfter: Bool, tunnel: Bool, request: BodyProgress, started: Double
        ) {
            self.route = route
            self.backend = backend
            self.picked = picked
            self.candidates = candidates
            self.method = method
            self.clientMinor = clientMinor
            self.closeAfter = closeAfter
            self.tunnel = tunnel
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
        arm(settings.timeouts.httpRequest)  // a new connection owes its first request head promptly
    }

    func arm(_ seconds: Double) {
        event_add(timer, worker.timeout(seconds))
    }

    private func deadlinePassed() {
        switch phase {
        case .waiting: close()
        case .readingHead:
            if evbuffer_get_length(input) == 0 { close() } else { fail(HTTPError(408, "request head not complete in time")) }
        case .closing, .lingering: close()
        default: break
        }
    }

    func clientEvent(_ what: Int16) {
        guard phase != .closed else { return }
        if what & Int16(EV_TIMEOUT) != 0 {
            close()
            return
        }
        if what & Int16(EV_READ | EV_CLOSED) != 0 {
            if phase == .tunnel {
                tunnelFromClient(peerClosed: what & Int16(EV_CLOSED) != 0)
            } else {
                readClient(peerClosed: what & Int16(EV_CLOSED) != 0)
                process()
            }
        }
        if phase != .closed && what & Int16(EV_WRITE) != 0 {
            flushClient()
            // TLS may have been waiting to send (handshake) before it could read on.
            if let tls, tls.readWantsWrite, phase == .waiting || phase == .readingHead || phase == .exchanging {
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
        guard phase != .closed else { return }
        let lingering = phase == .lingering
        guard fromClient.fill(limit: settings.limits.bufferBytes, peerClosed: peerClosed, discard: lingering) else {
            return close()
        }
        if fromClient.eof && lingering { close() }
    }

    /// Advances whatever the buffered client bytes allow: the next request head, or the body of
    /// the request in flight.
    func process() {
        while true {
            switch phase {
            case .waiting, .readingHead:
                if evbuffer_get_length(input) == 0 {
                    if fromClient.eof { close() }
                    return
                }
                if phase == .waiting {
                    phase = .readingHead
                    arm(settings.timeouts.httpRequest)
                }
                guard beginRequest() else { return }
            case .exchanging:
                forwardRequestBody()
                return
            default:
                return
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
        guard phase != .closed else { return }
        var written = 0
        defer { cell?.counters.bytesOut += written }
        switch send(counted: &written) {
        case .failed: return close()
        case .blocked: return
        case .empty: break
        }
        if phase == .closing {
            // Everything said: half-close, then read and discard until the client closes, so unread
            // bytes do not turn the close into a reset that could destroy the answer.
            shutdownClient()
            phase = .lingering
            arm(2)
            readClient()
            return
        }
        if let up = upstream, up.incoming.resume(backlog: output, limit: settings.limits.bufferBytes) {
            if phase == .tunnel { tunnelFromUpstream(up, peerClosed: true) } else { upstreamReadable(up, peerClosed: true) }
        }
    }

    /// Answers with an error of the LB's own, then closes. Nothing further is read from this client.
    func fail(_ error: HTTPError) {
        guard phase != .closed, phase != .closing, phase != .lingering else { return }
        if let ex = exchange {
            ex.cell.answered(status: error.status, generated: true)
            worker.ended(ex)
        }
        dropUpstream()
        exchange = nil
        answerAndClose(error.response)
    }

    /// Sends a response of the LB's own and closes once it is out.
    func answerAndClose(_ bytes: [UInt8]) {
        EventIO.add(output, bytes)
        phase = .closing
        flushClient()
    }

    /// Ends the connection at once: used when an answer was already under way.
    func abort() {
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
        guard phase != .closed else { return }
        phase = .closed
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
