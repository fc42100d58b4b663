import CLibevent
import Foundation
import XCTest

@testable import PacerLB

#if canImport(Glibc)
import Glibc
#endif

/// `Flow` against real loopback TCP sockets: the one read loop every LB connection type uses.
final class FlowTests: XCTestCase {
    private var fds: [Int32] = []
    private var buffers: [OpaquePointer] = []

    override func tearDown() {
        for fd in fds { close(fd) }
        for b in buffers { evbuffer_free(b) }
    }

    /// A connected pair: `ours` is non-blocking (as the LB's sockets are), `peer` is blocking.
    private func pair() throws -> (ours: Int32, peer: Int32) {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        fds.append(listener)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &addr) { p in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                XCTAssertEqual(bind(listener, sa, len), 0)
                XCTAssertEqual(listen(listener, 1), 0)
                XCTAssertEqual(getsockname(listener, sa, &len), 0)
                let peer = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                fds.append(peer)
                guard connect(peer, sa, len) == 0 else { throw POSIXError(.ECONNREFUSED) }
            }
        }
        let ours = accept(listener, nil, nil)
        XCTAssertGreaterThanOrEqual(ours, 0)
        fds.append(ours)
        XCTAssertEqual(evutil_make_socket_nonblocking(ours), 0)
        return (ours, fds[fds.count - 2])
    }

    private func buffer() -> OpaquePointer {
        let b = evbuffer_new()!
        buffers.append(b)
        return b
    }

    /// Writes `count` bytes to the blocking `fd` (small amounts: they must fit in the socket buffers).
    private func send(_ fd: Int32, _ count: Int) {
        let bytes = [UInt8](repeating: 0x61, count: count)
        XCTAssertEqual(bytes.withUnsafeBytes { write(fd, $0.baseAddress!, count) }, count)
    }

    /// Writes `count` bytes from another thread (more than the socket buffers hold), then ends
    /// the stream if asked.
    private func sendInBackground(_ fd: Int32, _ count: Int, thenShut: Bool) {
        Thread.detachNewThread {
            let bytes = [UInt8](repeating: 0x61, count: count)
            var sent = 0
            while sent < count {
                let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + sent, count - sent) }
                if n <= 0 { return }
                sent += n
            }
            if thenShut { shutdown(fd, Int32(SHUT_WR)) }
        }
    }

    /// Fills until `done` holds (bytes arrive over time), failing after a few seconds.
    private func fill(_ flow: inout Flow, limit: Int, discard: Bool = false, until done: (Flow) -> Bool) {
        for _ in 0..<2000 {
            XCTAssertTrue(flow.fill(limit: limit, peerClosed: true, discard: discard))
            if done(flow) { return }
            usleep(1_000)
        }
        XCTFail("the flow never got there")
    }

    /// Waits until `fd` (non-blocking) has at least `count` bytes to read, so what one fill sees
    /// does not depend on how the kernel schedules loopback delivery.
    private func waitReadable(_ fd: Int32, _ count: Int) {
        var peek = [UInt8](repeating: 0, count: count)
        for _ in 0..<1000 {
            if peek.withUnsafeMutableBytes({ recv(fd, $0.baseAddress!, count, Int32(MSG_PEEK)) }) >= count { return }
            usleep(2_000)
        }
        XCTFail("\(count) bytes never arrived")
    }

    func testReadsWhatArrivedAndStopsWhenDrained() throws {
        let (ours, peer) = try pair()
        var flow = Flow(source: .socket(ours), buffer: buffer())
        send(peer, 1000)
        waitReadable(ours, 1000)
        XCTAssertTrue(flow.fill(limit: 1 << 20, peerClosed: false))
        XCTAssertEqual(evbuffer_get_length(flow.buffer), 1000)
        XCTAssertFalse(flow.eof)
        XCTAssertFalse(flow.paused)
        // Nothing more: a second fill hears EAGAIN and reports no error.
        XCTAssertTrue(flow.fill(limit: 1 << 20, peerClosed: true))
        XCTAssertEqual(evbuffer_get_length(flow.buffer), 1000)
    }

    func testPausesAtTheLimitAndResumesBelowHalf() throws {
        let (ours, peer) = try pair()
        var flow = Flow(source: .socket(ours), buffer: buffer())
        sendInBackground(peer, 400_000, thenShut: false)
        fill(&flow, limit: 100_000) { $0.paused }
        let held = evbuffer_get_length(flow.buffer)
        XCTAssertGreaterThanOrEqual(held, 100_000)
        XCTAssertLessThan(held, 100_000 + EventIO.readSize)
        // Still at the limit: not resumed, and nothing is read while paused.
        XCTAssertFalse(flow.resume(backlog: flow.buffer, limit: 100_000))
        XCTAssertTrue(flow.fill(limit: 100_000, peerClosed: true))
        XCTAssertEqual(evbuffer_get_length(flow.buffer), held)
        evbuffer_drain(flow.buffer, held - 10_000)
        XCTAssertTrue(flow.resume(backlog: flow.buffer, limit: 100_000))
        XCTAssertFalse(flow.paused)
        XCTAssertFalse(flow.resume(backlog: flow.buffer, limit: 100_000), "resumes once")
        fill(&flow, limit: 1 << 20) { evbuffer_get_length($0.buffer) == 10_000 + 400_000 - held }
        XCTAssertFalse(flow.paused)
    }

    func testEndOfStreamIsPassedOnOnceEverythingBeforeItIsWritten() throws {
        let (ours, peer) = try pair()
        let (sinkOurs, sinkPeer) = try pair()
        var flow = Flow(source: .socket(ours), buffer: buffer())
        send(peer, 10)
        shutdown(peer, Int32(SHUT_WR))
        waitReadable(ours, 10)
        // The FIN may come with the data and raise no edge of its own: with peerClosed the flow
        // reads past the short read to the end.
        XCTAssertTrue(flow.fill(limit: 1 << 20, peerClosed: true))
        XCTAssertTrue(flow.eof)
        flow.passEOF(to: .socket(sinkOurs))
        XCTAssertFalse(flow.shut, "ten bytes still wait: the end must not overtake them")
        var written = 0
        XCTAssertEqual(Endpoint.socket(sinkOurs).write(flow.buffer, counted: &written), .empty)
        XCTAssertEqual(written, 10)
        flow.passEOF(to: .socket(sinkOurs))
        XCTAssertTrue(flow.shut)
        flow.passEOF(to: .socket(sinkOurs))  // once only; a second shutdown would be harmless but is not made
        var received = [UInt8](repeating: 0, count: 64)
        var total = 0
        while true {
            let n = received.withUnsafeMutableBytes { read(sinkPeer, $0.baseAddress!, 64) }
            if n <= 0 {
                XCTAssertEqual(n, 0, "EOF, not an error")
                break
            }
            total += n
        }
        XCTAssertEqual(total, 10)
        // After the end nothing is read and nothing fails.
        XCTAssertTrue(flow.fill(limit: 1 << 20, peerClosed: true))
    }

    func testShortReadWithoutPeerCloseStopsBeforeTheEnd() throws {
        let (ours, peer) = try pair()
        var flow = Flow(source: .socket(ours), buffer: buffer())
        send(peer, 10)
        shutdown(peer, Int32(SHUT_WR))
        waitReadable(ours, 10)
        XCTAssertTrue(flow.fill(limit: 1 << 20, peerClosed: false))
        XCTAssertFalse(flow.eof, "a short read drained the socket; the close raises its own edge")
        XCTAssertTrue(flow.fill(limit: 1 << 20, peerClosed: false))
        XCTAssertTrue(flow.eof)
    }

    func testAResetIsAHardError() throws {
        let (ours, peer) = try pair()
        var flow = Flow(source: .socket(ours), buffer: buffer())
        var abortive = linger(l_onoff: 1, l_linger: 0)
        setsockopt(peer, SOL_SOCKET, SO_LINGER, &abortive, socklen_t(MemoryLayout<linger>.size))
        close(peer)
        fds.removeAll { $0 == peer }
        usleep(20_000)
        XCTAssertFalse(flow.fill(limit: 1 << 20, peerClosed: true))
    }

    func testDiscardKeepsNothingAndReadsToTheEnd() throws {
        let (ours, peer) = try pair()
        var flow = Flow(source: .socket(ours), buffer: buffer())
        sendInBackground(peer, 400_000, thenShut: true)
        fill(&flow, limit: 1000, discard: true) { $0.eof }
        XCTAssertFalse(flow.paused, "discarding never pauses")
        XCTAssertLessThanOrEqual(evbuffer_get_length(flow.buffer), EventIO.readSize)
    }

    func testIOResultReadsErrnoAtOnce() {
        XCTAssertEqual(IOResult(5), .processed(5))
        XCTAssertEqual(IOResult(0), .eof)
        errno = EAGAIN
        XCTAssertEqual(IOResult(-1), .wouldBlock)
        errno = EINTR
        XCTAssertEqual(IOResult(-1), .wouldBlock)
        errno = ECONNRESET
        XCTAssertEqual(IOResult(-1), .failed(ECONNRESET))
    }
}
