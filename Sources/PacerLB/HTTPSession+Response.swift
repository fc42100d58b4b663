import CLibevent
import PacerLBCore

#if canImport(Glibc)
import Glibc
#endif

extension HTTPSession {
    func upstreamEvent(_ up: Upstream, _ what: Int16) {
        if what & Int16(EV_TIMEOUT) != 0 {
            if !up.connected { return connectFailed(pending: up) }
            if exchange?.response == nil { return gatewayTimeout() }
            return abort()  // the backend stalled mid-response
        }
        if !up.connected {
            guard what & Int16(EV_READ | EV_WRITE | EV_CLOSED) != 0 else { return }
            guard up.finishConnect() else { return connectFailed(pending: up) }
            up.arm(settings.timeouts.server)
            flushUpstream(up)
            guard upstream === up else { return }
        }
        if what & Int16(EV_READ | EV_CLOSED) != 0 {
            if phase == .tunnel {
                tunnelFromUpstream(up, peerClosed: what & Int16(EV_CLOSED) != 0)
            } else {
                upstreamReadable(up, peerClosed: what & Int16(EV_CLOSED) != 0)
            }
        }
        if upstream === up && what & Int16(EV_WRITE) != 0 { flushUpstream(up) }
    }

    private func gatewayTimeout() {
        if let ex = exchange { ex.cell.timedOut() }
        fail(HTTPError(504, "backend did not answer within \(Int(settings.timeouts.server)) s"))
    }

    func upstreamReadable(_ up: Upstream, peerClosed: Bool) {
        guard up.incoming.fill(limit: settings.limits.bufferBytes, peerClosed: peerClosed) else { return upstreamBroke(up) }
        handleResponse(up)
    }

    /// The connection to the backend failed: before any answer, a retry or 502; during one, abort.
    func upstreamBroke(_ up: Upstream) {
        guard let ex = exchange else { return }
        if ex.response != nil { return abort() }
        if evbuffer_get_length(up.input) == 0, up.reused, let head = ex.retryHead {
            // A pooled connection the backend had already closed: nothing was processed, so one
            // retry on a fresh connection is safe for an idempotent request without a body.
            exchange?.retryHead = nil
            worker.released(up, reusable: false)
            upstream = nil
            guard let fresh = worker.upstream(to: ex.backend, service: ex.service, fresh: true) else {
                return connectFailed(pending: nil)
            }
            EventIO.add(fresh.output, head)
            attach(fresh)
            return
        }
        ex.cell.backendError()
        fail(HTTPError(502, "backend closed the connection without a valid response"))
    }

    /// Parses the response head once it is in, then streams the body toward the client.
    private func handleResponse(_ up: Upstream) {
        while let ex = exchange, upstream === up {
            if ex.response == nil {
                guard let head = responseHead(up, ex) else { return }
                if head.isInterim { continue }
                if phase == .tunnel { return }
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
                fail(HTTPError(502, error.reason))
                return nil
            }
            if head.status == 101 && !ex.tunnel {
                ex.cell.backendError()
                fail(HTTPError(502, "backend switched protocols unasked"))
                return nil
            }
            // Both copies let go of the retry head, so the scratch buffer is unique again (no copy).
            ex.retryHead = nil
            exchange?.retryHead = nil
            let close = ex.closeAfter || head.body == .untilClose || fromClient.eof || worker.stopping
            if !head.isInterim { ex.closeAfter = close }
            scratch.removeAll(keepingCapacity: true)
            HeadWriter.response(
                bytes, head, fields, clientMinor: ex.clientMinor, close: close && !head.isInterim,
                extra: head.isInterim ? [] : ex.stickyCookie, into: &scratch)
            evbuffer_drain(up.input, end)
            EventIO.add(output, scratch)
            if head.isInterim {
                flushClient()
                return head
            }
            ex.cell.answered(status: head.status, latency: worker.now() - ex.started)
            ex.responseBody = BodyProgress(head.body)
            if head.status == 101 { startTunnel(up) }
            return head
        }
    }

    /// The response is complete: the connection to the backend goes back to the pool if it can
    /// carry another request, and the next pipelined request (if any) is taken up.
    private func finishExchange(_ up: Upstream) {
        guard let ex = exchange, let head = ex.response else { return }
        let reusable =
            !head.closes && ex.request.isDone && !up.incoming.eof && evbuffer_get_length(up.input) == 0
            && evbuffer_get_length(up.output) == 0 && head.minor == 1
        worker.released(up, reusable: reusable)
        upstream = nil
        exchange = nil
        worker.ended(ex)
        if ex.closeAfter || !ex.request.isDone {
            phase = .closing
            flushClient()
            return
        }
        phase = .waiting
        arm(worker.stopping ? min(1, settings.timeouts.keepAlive) : settings.timeouts.keepAlive)
        flushClient()
        if phase == .waiting { process() }
    }
}
