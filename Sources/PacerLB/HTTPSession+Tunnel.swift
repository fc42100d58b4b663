import CLibevent
import PacerLBCore

#if canImport(Glibc)
import Glibc
#endif

/// After a `101 Switching Protocols` on a route that allows WebSocket, the connection is a plain
/// byte tunnel both ways, with half-closes passed on, until both sides are done.
extension HTTPSession {
    func startTunnel(_ up: Upstream) {
        up.arm(settings.timeouts.idle)
        evbuffer_add_buffer(output, up.input)
        tunnelFromClient(peerClosed: true)
        tunnelFromUpstream(up, peerClosed: true)
    }

    /// Client bytes to the backend; reading stops while the backend's buffer is full (its write
    /// event resumes it once below half).
    func tunnelFromClient(peerClosed: Bool) {
        guard machine.isTunnel, let up = upstream else { return }
        if evbuffer_get_length(up.output) >= settings.limits.bufferBytes {
            fromClient.paused = true
        } else {
            readClient(peerClosed: peerClosed)
            guard machine.isTunnel else { return }
            evbuffer_add_buffer(up.output, input)
        }
        var written = 0
        defer { cell?.counters.bytesIn += written }
        guard up.flush(counted: &written) else { return close() }
        if evbuffer_get_length(up.output) == 0 { fromClient.passEOF(to: .socket(up.fd)) }
        tunnelEndIfDone(up)
    }

    /// Backend bytes to the client, with the same backpressure.
    func tunnelFromUpstream(_ up: Upstream, peerClosed: Bool) {
        guard machine.isTunnel else { return }
        if evbuffer_get_length(output) >= settings.limits.bufferBytes {
            up.incoming.paused = true  // the client's write event resumes it (flushClient)
        } else {
            guard up.incoming.fill(limit: settings.limits.bufferBytes, peerClosed: peerClosed) else { return close() }
            evbuffer_add_buffer(output, up.input)
        }
        var written = 0
        defer { cell?.counters.bytesOut += written }
        if send(counted: &written) == .failed { return close() }
        if evbuffer_get_length(output) == 0 { up.incoming.passEOF(to: fromClient.source) }
        tunnelEndIfDone(up)
    }

    private func tunnelEndIfDone(_ up: Upstream) {
        let empty = evbuffer_get_length(output) == 0 && evbuffer_get_length(up.output) == 0
        if machine.onTunnelProgress(clientEOF: fromClient.eof, upstreamEOF: up.incoming.eof, buffersEmpty: empty) {
            if let ex = exchange { worker.ended(ex) }
            exchange = nil
            close()
        }
    }
}
