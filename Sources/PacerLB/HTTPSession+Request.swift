import CLibevent
import PacerLBCore

#if canImport(Glibc)
import Glibc
#endif

extension HTTPSession {
    /// Parses the next request head if it has fully arrived, routes it and sends it on.
    /// Returns true when an exchange started.
    func beginRequest() -> Bool {
        guard let (bytes, head, end) = nextHead(), let route = route(bytes, head) else { return false }
        let service = route.service
        let port = route.port
        if case .length(let n) = head.body, settings.limits.bodyBytes > 0, n > settings.limits.bodyBytes {
            fail(HTTPError(413, "request body larger than \(settings.limits.bodyBytes) bytes"))
            return false
        }
        if redirectedToHTTPS(bytes, head, route) { return false }
        let tunnel = head.upgrade == .websocket && service.websocket
        scratch.removeAll(keepingCapacity: true)
        HeadWriter.request(bytes, head, fields, forwarding: forwarding, tunnel: tunnel, into: &scratch)
        let cookie = service.sticky ? stickyCookie(bytes) : nil
        let choice = route.pick(client: clientKey, cookie: cookie)
        evbuffer_drain(input, end)
        guard let (first, picked) = choice else {
            route.cell.started()
            exchange = Exchange(
                route: route, backend: Backend(host: "", port: 0, taskId: ""), picked: nil, candidates: [],
                method: head.knownMethod, clientMinor: head.minor,
                request: BodyProgress(head.body), started: 0)
            fail(HTTPError(503, "no healthy backend for this service"))
            return false
        }
        let ex = Exchange(
            route: route, backend: first, picked: picked ? first : nil, candidates: nil, method: head.knownMethod,
            clientMinor: head.minor,
            request: BodyProgress(head.body), started: worker.now())
        if head.body == .none && head.knownMethod.isIdempotent && !tunnel { ex.retryHead = scratch }
        if service.sticky && cookie != first.stickyId {
            ex.stickyCookie = Array("set-cookie: pacer_sticky=\(first.stickyId); path=/; httponly\r\n".utf8)
        }
        exchange = ex
        cell = route.cell
        route.cell.started()
        machine.onRouted(
            .init(closeAfter: head.wantsClose || worker.stopping, tunnelAllowed: tunnel, retryable: ex.retryHead != nil))
        guard let up = worker.upstream(to: first, service: port) else {
            connectFailed(pending: nil)
            return exchange != nil
        }
        attach(up)
        EventIO.add(up.output, scratch)
        if up.connected { flushUpstream(up) }
        return true
    }

    /// The next request head, parsed (its bytes stay in `input` until the request is sent on), or
    /// nil: not all there yet, or refused (answered).
    private func nextHead() -> (bytes: UnsafeRawBufferPointer, head: RequestHead, end: Int)? {
        let limits = settings.limits.head
        let available = evbuffer_get_length(input)
        let bytes = EventIO.contiguous(input, min(available, limits.headBytes + 4))
        switch HeadScanner.scan(bytes, from: scanResume, limits: limits) {
        case .incomplete(let resume):
            scanResume = resume
            if machine.onHeadIncomplete(eof: fromClient.eof) == .close { close() }
            return nil
        case .invalid(let error):
            fail(error)
            return nil
        case .complete(let start, let end):
            scanResume = 0
            do {
                let head = try RequestHead.parse(bytes, start..<end, limits: limits, fields: &fields, connectionTokens: &tokens)
                return (bytes, head, end)
            } catch {
                fail(error)
                return nil
            }
        }
    }

    /// HAPROXY_{n}_REDIRECT_TO_HTTPS on the plain virtual-host listener: answered with a 301.
    private func redirectedToHTTPS(_ bytes: UnsafeRawBufferPointer, _ head: RequestHead, _ route: WorkerRoute) -> Bool {
        guard route.service.redirectToHTTPS, tls == nil, case .virtualHost = entry, settings.httpsPort > 0, let host = head.host
        else { return false }
        let name = VirtualHostName.normalize(UnsafeRawBufferPointer(rebasing: bytes[host]))
        let target = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[head.target]), as: UTF8.self)
        let port = settings.httpsPort == 443 ? "" : ":\(settings.httpsPort)"
        route.cell.started()
        route.cell.answered(status: 301, generated: true)
        route.cell.finished()
        answerAndClose(HTTPError.redirect(to: "https://\(name)\(port)\(target)"))
        return true
    }

    /// The service a request goes to, or nil after answering it with an error.
    func route(_ bytes: UnsafeRawBufferPointer, _ head: RequestHead) -> WorkerRoute? {
        switch entry {
        case .service(let port):
            guard let route = worker.routes[port] else {
                fail(HTTPError(503, "service is gone"))
                return nil
            }
            return route
        case .virtualHost:
            guard let host = head.host else {
                fail(HTTPError(404, "no Host, so no virtual host"))
                return nil
            }
            let name = VirtualHostName.normalize(UnsafeRawBufferPointer(rebasing: bytes[host]))
            guard let port = worker.table.virtualHost(name, target: UnsafeRawBufferPointer(rebasing: bytes[head.target])),
                let route = worker.routes[port]
            else {
                fail(HTTPError(404, "no service for this host and path"))
                return nil
            }
            return route
        }
    }

    /// The value of our sticky cookie in the request, if any.
    func stickyCookie(_ bytes: UnsafeRawBufferPointer) -> String? {
        let key = Array("pacer_sticky=".utf8)
        for f in fields where f.kind == .cookie {
            let value = UnsafeRawBufferPointer(rebasing: bytes[f.value])
            var i = 0
            while i + key.count <= value.count {
                if (i == 0 || value[i - 1] == UInt8(ascii: " ") || value[i - 1] == UInt8(ascii: ";"))
                    && value[i..<(i + key.count)].elementsEqual(key)
                {
                    var j = i + key.count
                    while j < value.count && value[j] != UInt8(ascii: ";") { j += 1 }
                    return String(decoding: value[(i + key.count)..<j], as: UTF8.self)
                }
                i += 1
            }
        }
        return nil
    }

    func attach(_ up: Upstream) {
        up.owner = self
        upstream = up
        up.arm(up.connected ? settings.timeouts.server : settings.timeouts.connect)
    }

    /// The backend could not be reached (or a reused connection died before answering): the
    /// request has not been seen by any backend, so the next candidate gets it; none left → 502.
    func connectFailed(pending: Upstream?) {
        guard let ex = exchange else { return }
        ex.cell.connectFailed()
        var candidates = ex.candidates ?? ex.route.alternates(excluding: ex.backend)
        while !candidates.isEmpty {
            let next = candidates.removeFirst()
            ex.candidates = candidates
            guard let up = worker.upstream(to: next, service: ex.service, fresh: true) else {
                ex.cell.connectFailed()
                continue
            }
            ex.backend = next
            if let pending { evbuffer_add_buffer(up.output, pending.output) } else { EventIO.add(up.output, scratch) }
            if let pending { worker.released(pending, reusable: false) }
            attach(up)
            return
        }
        if let pending { worker.released(pending, reusable: false) }
        upstream = nil
        fail(HTTPError(502, "no backend could be reached"))
    }

    /// The backend's socket can take more (or just connected): write what waits, then take more
    /// of the request body (or of the tunnel's client bytes).
    func flushUpstream(_ up: Upstream) {
        guard up.connected else { return }
        if machine.isTunnel {
            guard up.flush(counted: &cell!.counters.bytesIn) else { return close() }
            if fromClient.resume(backlog: up.output, limit: settings.limits.bufferBytes) { tunnelFromClient(peerClosed: true) }
            return
        }
        guard case .exchanging = machine.state, let ex = exchange, !ex.request.isDone else {
            guard up.flush(counted: &cell!.counters.bytesIn) else { return upstreamBroke(up) }
            return
        }
        forwardRequestBody()
    }
}
