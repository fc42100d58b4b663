#if canImport(Glibc)
import Glibc
#endif
import CLibevent
import PacerLBCore

/// After a `101 Switching Protocols` on a route that allows WebSocket, the connection is a plain
/// byte tunnel both ways, with half-closes passed on, until both sides are done.
extension HTTPSession {
    func startTunnel(_ up: Upstream) {
        phase = .tunnel
        event_del(timer)
        up.arm(settings.timeouts.idle)
        evbuffer_add_buffer(output, up.input)
        tunnelFromClient(peerClosed: true)
        tunnelFromUpstream(up, peerClosed: true)
    }

    func tunnelFromClient(peerClosed: Bool) {
        guard phase == .tunnel, let up = upstream else { return }
        readClient(peerClosed: peerClosed)
        guard phase == .tunnel else { return }
        evbuffer_add_buffer(up.output, input)
        var written = 0
        defer { cell?.counters.bytesIn += written }
        guard up.flush(counted: &written) else { return close() }
        if clientEOF && evbuffer_get_length(up.output) == 0 { shutdown(up.fd, Int32(SHUT_WR)) }
        tunnelEndIfDone(up)
    }

    func tunnelFromUpstream(_ up: Upstream, peerClosed: Bool) {
        guard phase == .tunnel else { return }
        guard up.read(limit: settings.limits.bufferBytes, peerClosed: peerClosed) else { return close() }
        evbuffer_add_buffer(output, up.input)
        var written = 0
        defer { cell?.counters.bytesOut += written }
        if send(counted: &written) == .failed { return close() }
        if up.eof && evbuffer_get_length(output) == 0 { shutdownClient() }
        tunnelEndIfDone(up)
    }

    func tunnelEndIfDone(_ up: Upstream) {
        if clientEOF && up.eof && evbuffer_get_length(output) == 0 && evbuffer_get_length(up.output) == 0 {
            if let ex = exchange { worker.ended(ex) }
            exchange = nil
            close()
        }
    }
}
