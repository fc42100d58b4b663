import CLibevent
import PacerLBCore

#if canImport(Glibc)
import Glibc
#endif

extension HTTPSession {
    func upstreamEvent(_ up: Upstream, _ what: Int16) {
        defer { syncTimer() }
        if what & Int16(EV_TIMEOUT) != 0 {
            return upstreamFailed(up, .timedOut(connected: up.connected))
        }
        if !up.connected {
            guard what & Int16(EV_READ | EV_WRITE | EV_CLOSED) != 0 else { return }
            guard up.finishConnect() else { return connectFailed(pending: up) }
            up.arm(settings.timeouts.server)
            flushUpstream(up)
            guard upstream === up else { return }
        }
        if what & Int16(EV_READ | EV_CLOSED) != 0 {
            if machine.isTunnel {
                tunnelFromUpstream(up, peerClosed: what & Int16(EV_CLOSED) != 0)
            } else {
                upstreamReadable(up, peerClosed: what & Int16(EV_CLOSED) != 0)
            }
        }
        if upstream === up && what & Int16(EV_WRITE) != 0 { flushUpstream(up) }
    }

    func upstreamReadable(_ up: Upstream, peerClosed: Bool) {
        guard up.incoming.fill(limit: settings.limits.bufferBytes, peerClosed: peerClosed) else { return upstreamBroke(up) }
        handleResponse(up)
    }

    /// The connection to the backend failed: before any answer, a retry or 502; during one, abort.
    func upstreamBroke(_ up: Upstream) {
        upstreamFailed(up, .broke(readNothing: evbuffer_get_length(up.input) == 0, reused: up.reused))
    }

    private func upstreamFailed(_ up: Upstream, _ failure: HTTPConnection.UpstreamFailure) {
        guard let ex = exchange else { return }
        switch machine.onUpstreamFailed(failure, serverTimeout: settings.timeouts.server) {
        case .none: break
        case .tryNextBackend: connectFailed(pending: up)
        case .retryOnFreshConnection:
            // A pooled connection the backend had already closed: nothing was processed, so one
            // retry on a fresh connection is safe for an idempotent request without a body.
            guard let head = ex.retryHead else { return fail(HTTPError(502, "backend closed the connection")) }
            ex.retryHead = nil
            worker.released(up, reusable: false)
            upstream = nil
            guard let fresh = worker.upstream(to: ex.backend, service: ex.service, fresh: true) else {
                return connectFailed(pending: nil)
            }
            EventIO.add(fresh.output, head)
            attach(fresh)
        case .answer(let error):
            if error.status == 504 { ex.cell.timedOut() } else { ex.cell.backendError() }
            up.stats.failed()
            answer(error)
        case .abort: abort()
        }
    }

    /// Parses the response head once it is in, then streams the body toward the client.
    private func handleResponse(_ up: Upstream) {
        while let ex = exchange, upstream === up {
            if ex.response == nil {
                guard let head = responseHead(up, ex) else { return }
                if head.isInterim { continue }
                if machine.isTunnel { return }
                ex.response = head
            }
            let room = settings.limits.bufferBytes - evbuffer_get_length(output)
            if room > 0 {
                do { _ = try EventIO.moveBody(up.input, to: output, &ex.responseBody, limit: room) } catch {
                    ex.cell.backendError()
                    return abort()
                }
            }
            if ex.responseBody.isDone { return finishExchange(up) }
            if evbuffer_get_length(up.input) > 0 { up.incoming.paused = true }
            if up.incoming.eof && evbuffer_get_length(up.input) == 0 {
                if case .untilClose = ex.responseBody.state { return finishExchange(up) }
                ex.cell.backendError()
                return abort()  // the body was cut short: the client must not take it as complete
            }
            flushClient()
            return
        }
    }

    /// Parses and forwards one response head; nil when more bytes are needed or it failed.
    private func responseHead(_ up: Upstream, _ ex: Exchange) -> ResponseHead? {
        let limits = settings.limits.head
        let available = evbuffer_get_length(up.input)
        let bytes = EventIO.contiguous(up.input, min(available, limits.headBytes + 4))
        switch HeadScanner.scan(bytes, limits: limits, isRequest: false) {
        case .incomplete:
            if up.incoming.eof || available > limits.headBytes { upstreamBroke(up) }
            return nil
        case .invalid:
            ex.cell.backendError()
            up.stats.failed()
            fail(HTTPError(502, "backend sent a malformed response head"))
            return nil
        case .complete(let start, let end):
            let head: ResponseHead
            do {
                head = try ResponseHead.parse(
                    bytes, start..<end, limits: limits, isHead: ex.method == .head,
                    fields: &fields, connectionTokens: &tokens)
            } catch {
                ex.cell.backendError()
                up.stats.failed()
                fail(HTTPError(502, error.reason))
                return nil
            }
            let decided = machine.onResponseHead(
                status: head.status, untilClose: head.body == .untilClose, clientEOF: fromClient.eof, stopping: worker.stopping)
            let close: Bool
            switch decided {
            case .none: return nil
            case .answer(let error):
                ex.cell.backendError()
                answer(error)
                return nil
            case .forwardInterim, .startTunnel: close = false
            case .forward(let c): close = c
            }
            // Both copies let go of the retry head, so the scratch buffer is unique again (no copy).
            ex.retryHead = nil
            exchange?.retryHead = nil
            scratch.removeAll(keepingCapacity: true)
            HeadWriter.response(
                bytes, head, fields, clientMinor: ex.clientMinor, close: close,
                extra: head.isInterim ? [] : ex.stickyCookie, into: &scratch)
            evbuffer_drain(up.input, end)
            EventIO.add(output, scratch)
            if head.isInterim {
                flushClient()
                return head
            }
            let latency = worker.now() - ex.started
            ex.cell.answered(status: head.status, latency: latency)
            up.stats.answered(status: head.status, latency: latency)
            ex.responseBody = BodyProgress(head.body)
            if decided == .startTunnel { startTunnel(up) }
            return head
        }
    }

    /// The response is complete: the connection to the backend goes back to the pool if it can
    /// carry another request, and the next pipelined request (if any) is taken up.
    private func finishExchange(_ up: Upstream) {
        guard let ex = exchange, let head = ex.response else { return }
        let reusable = HTTPConnection.reusable(
            responseCloses: head.closes, responseMinor: head.minor, requestDone: ex.request.isDone,
            upstreamEOF: up.incoming.eof, unreadBytes: evbuffer_get_length(up.input), unsentBytes: evbuffer_get_length(up.output))
        worker.released(up, reusable: reusable)
        upstream = nil
        exchange = nil
        worker.ended(ex)
        let next = machine.onResponseComplete(
            requestDone: ex.request.isDone, stopping: worker.stopping, now: worker.monotonicNow())
        syncTimer()
        flushClient()
        if next == .keepAlive && machine.state == .waiting { process() }
    }
}
