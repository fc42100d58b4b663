import PacerLBCore
import XCTest

/// The LB's HTTP connection decisions without sockets: every state × event that matters, on a
/// manual clock (seconds since the accept).
final class HTTPConnectionTests: XCTestCase {
    private let timeouts = HTTPConnection.Timeouts(request: 5, keepAlive: 15, linger: 2)

    private func fresh() -> HTTPConnection { HTTPConnection(timeouts: timeouts, now: 0) }

    /// A connection with a request routed to a backend.
    private func exchanging(closeAfter: Bool = false, tunnel: Bool = false, retryable: Bool = true) -> HTTPConnection {
        var c = fresh()
        XCTAssertEqual(c.onClientInput(buffered: 40, eof: false, now: 1), .parseHead)
        c.onRouted(.init(closeAfter: closeAfter, tunnelAllowed: tunnel, retryable: retryable))
        return c
    }

    // MARK: Request heads and their deadline

    func testANewConnectionOwesItsFirstHeadWithinTheRequestTimeout() {
        var c = fresh()
        XCTAssertEqual(c.state, .waiting)
        XCTAssertEqual(c.deadline, 5)
        XCTAssertEqual(c.timerSeconds, 5)
        XCTAssertEqual(c.onClientInput(buffered: 0, eof: false, now: 1), .wait)
        XCTAssertEqual(c.onDeadline(now: 5, buffered: 0), .close, "silent connection closed, no answer")
        XCTAssertEqual(c.state, .closed)
        XCTAssertNil(c.deadline)
    }

    func testTheFirstBytesRestartTheHeadDeadlineAndASlowHeadGets408() {
        var c = fresh()
        let generation = c.timerGeneration
        XCTAssertEqual(c.onClientInput(buffered: 10, eof: false, now: 3), .parseHead)
        XCTAssertEqual(c.state, .readingHead)
        XCTAssertEqual(c.deadline, 8)
        XCTAssertNotEqual(c.timerGeneration, generation, "the shell re-arms its timer")
        XCTAssertEqual(c.onHeadIncomplete(eof: false), .wait)
        XCTAssertEqual(c.onClientInput(buffered: 20, eof: false, now: 6), .parseHead, "more bytes: the deadline stays")
        XCTAssertEqual(c.deadline, 8)
        XCTAssertEqual(c.onDeadline(now: 8, buffered: 20), .answer(HTTPError(408, "request head not complete in time")))
        XCTAssertEqual(c.state, .closing)
        XCTAssertTrue(c.onClientFlushed(now: 8.1))
        XCTAssertEqual(c.state, .lingering)
        XCTAssertEqual(c.deadline, 10.1, "lingers for two seconds")
        XCTAssertEqual(c.onClientInput(buffered: 5, eof: false, now: 9), .wait, "discarded")
        XCTAssertEqual(c.onDeadline(now: 10.1, buffered: 0), .close)
    }

    func testAClientThatHangsUpMidHeadIsClosedWithoutAnAnswer() {
        var c = fresh()
        _ = c.onClientInput(buffered: 10, eof: false, now: 1)
        XCTAssertEqual(c.onHeadIncomplete(eof: true), .close)
        XCTAssertEqual(c.state, .closed)
        var d = fresh()
        XCTAssertEqual(d.onClientInput(buffered: 0, eof: true, now: 1), .close, "EOF before any byte")
    }

    func testATimerThatFiresEarlyIsRearmedForTheRest() {
        var c = fresh()
        _ = c.onClientInput(buffered: 10, eof: false, now: 3)  // deadline moved to 8
        XCTAssertEqual(c.onDeadline(now: 5, buffered: 10), .rearm(3), "the timer set for 5 s fired; 3 s remain")
        XCTAssertEqual(c.state, .readingHead)
        XCTAssertEqual(c.onDeadline(now: 7.995, buffered: 10), .answer(HTTPError(408, "request head not complete in time")))
    }

    func testRefusedRequestsAreAnsweredOnceThenTheConnectionLingers() {
        var c = fresh()
        _ = c.onClientInput(buffered: 10, eof: false, now: 1)
        XCTAssertEqual(c.onFailed(HTTPError(404, "no service")), .answer(HTTPError(404, "no service")))
        XCTAssertEqual(c.onFailed(HTTPError(502, "again")), .none, "one answer per connection")
        XCTAssertFalse(c.onOwnAnswer())
        XCTAssertEqual(c.onClientInput(buffered: 100, eof: false, now: 2), .wait, "nothing more is read as requests")
        XCTAssertFalse(c.readsRequests)
        XCTAssertEqual(c.onDeadline(now: 6, buffered: 100), .close, "the head deadline still closes a client that never reads")
    }

    func testARedirectIsAnOwnAnswer() {
        var c = fresh()
        _ = c.onClientInput(buffered: 10, eof: false, now: 1)
        XCTAssertTrue(c.onOwnAnswer())
        XCTAssertEqual(c.state, .closing)
    }

    // MARK: Exchanges

    func testRoutingStopsTheHeadDeadline() {
        let c = exchanging()
        XCTAssertEqual(c.state, .exchanging(.init(closeAfter: false, tunnelAllowed: false, retryable: true)))
        XCTAssertNil(c.deadline)
        XCTAssertNil(c.timerSeconds)
        var d = c
        XCTAssertEqual(d.onClientInput(buffered: 100, eof: false, now: 2), .forwardBody)
        XCTAssertEqual(d.onDeadline(now: 100, buffered: 0), .none, "no deadline while the backend works")
    }

    func testKeepAliveAfterACompleteResponseThenThePipelinedRequest() {
        var c = exchanging()
        XCTAssertEqual(
            c.onResponseHead(status: 200, untilClose: false, clientEOF: false, stopping: false), .forward(close: false))
        XCTAssertEqual(c.onResponseComplete(requestDone: true, stopping: false, now: 10), .keepAlive)
        XCTAssertEqual(c.state, .waiting)
        XCTAssertEqual(c.deadline, 25)
        XCTAssertEqual(c.timerSeconds, 15)
        XCTAssertEqual(c.onClientInput(buffered: 30, eof: false, now: 10), .parseHead, "a pipelined request is taken up at once")
        XCTAssertEqual(c.deadline, 15)
    }

    func testAnIdleKeptAliveConnectionClosesAtItsDeadline() {
        var c = exchanging()
        _ = c.onResponseHead(status: 204, untilClose: false, clientEOF: false, stopping: false)
        _ = c.onResponseComplete(requestDone: true, stopping: false, now: 10)
        XCTAssertEqual(c.onDeadline(now: 24, buffered: 0), .rearm(1))
        XCTAssertEqual(c.onDeadline(now: 25, buffered: 0), .close)
    }

    func testWhatEndsTheConnectionAfterAResponse() {
        // The client asked to close.
        var a = exchanging(closeAfter: true)
        XCTAssertEqual(a.onResponseHead(status: 200, untilClose: false, clientEOF: false, stopping: false), .forward(close: true))
        XCTAssertEqual(a.onResponseComplete(requestDone: true, stopping: false, now: 1), .close)
        XCTAssertEqual(a.state, .closing)
        // The body runs until the backend closes.
        var b = exchanging()
        XCTAssertEqual(b.onResponseHead(status: 200, untilClose: true, clientEOF: false, stopping: false), .forward(close: true))
        // The client already half-closed.
        var c = exchanging()
        XCTAssertEqual(c.onResponseHead(status: 200, untilClose: false, clientEOF: true, stopping: false), .forward(close: true))
        // The LB is stopping.
        var d = exchanging()
        XCTAssertEqual(d.onResponseHead(status: 200, untilClose: false, clientEOF: false, stopping: true), .forward(close: true))
        // An answer before the request body was all read: what is left cannot be told from the next request.
        var e = exchanging()
        _ = e.onResponseHead(status: 413, untilClose: false, clientEOF: false, stopping: false)
        XCTAssertEqual(e.onResponseComplete(requestDone: false, stopping: false, now: 1), .close)
    }

    func testAStoppingLBGivesIdleConnectionsOneSecond() {
        var c = exchanging()
        _ = c.onResponseHead(status: 200, untilClose: false, clientEOF: false, stopping: false)
        _ = c.onResponseComplete(requestDone: true, stopping: true, now: 10)
        XCTAssertEqual(c.deadline, 11)
        var idle = fresh()
        idle.onStopping(now: 2)
        XCTAssertEqual(idle.deadline, 3)
        var busy = exchanging()
        busy.onStopping(now: 2)
        XCTAssertNil(busy.deadline, "a request in flight finishes")
    }

    func testInterimHeadsAreForwardedAndTheFinalOneDecides() {
        var c = exchanging()
        XCTAssertEqual(c.onResponseHead(status: 100, untilClose: false, clientEOF: false, stopping: false), .forwardInterim)
        XCTAssertEqual(c.onResponseHead(status: 103, untilClose: false, clientEOF: false, stopping: false), .forwardInterim)
        guard case .exchanging(let ex) = c.state else { return XCTFail("\(c.state)") }
        XCTAssertFalse(ex.answered)
        XCTAssertFalse(ex.retryable, "a backend that spoke has seen the request: no retry")
        XCTAssertEqual(
            c.onResponseHead(status: 200, untilClose: false, clientEOF: false, stopping: false), .forward(close: false))
        XCTAssertEqual(
            c.onResponseHead(status: 200, untilClose: false, clientEOF: false, stopping: false), .none, "one final head")
    }

    // MARK: Backend failures

    func testAFailedConnectTriesTheNextBackend() {
        var c = exchanging()
        XCTAssertEqual(c.onUpstreamFailed(.timedOut(connected: false), serverTimeout: 30), .tryNextBackend)
        XCTAssertEqual(
            c.onFailed(HTTPError(502, "no backend could be reached")), .answer(HTTPError(502, "no backend could be reached")))
    }

    func testASilentBackendGets504() {
        var c = exchanging()
        XCTAssertEqual(
            c.onUpstreamFailed(.timedOut(connected: true), serverTimeout: 30),
            .answer(HTTPError(504, "backend did not answer within 30 s")))
        XCTAssertEqual(c.state, .closing)
    }

    func testADeadPooledConnectionIsRetriedOnceForAnIdempotentRequest() {
        var c = exchanging(retryable: true)
        XCTAssertEqual(c.onUpstreamFailed(.broke(readNothing: true, reused: true), serverTimeout: 30), .retryOnFreshConnection)
        XCTAssertEqual(
            c.onUpstreamFailed(.broke(readNothing: true, reused: true), serverTimeout: 30),
            .answer(HTTPError(502, "backend closed the connection without a valid response")), "only once")
    }

    func testNoRetryWhenTheBackendMayHaveSeenTheRequest() {
        for (failure, retryable) in [
            (HTTPConnection.UpstreamFailure.broke(readNothing: true, reused: true), false),  // POST, or a body
            (.broke(readNothing: false, reused: true), true),  // it had started answering
            (.broke(readNothing: true, reused: false), true)  // a fresh connection: the backend itself closed
        ] {
            var c = exchanging(retryable: retryable)
            XCTAssertEqual(
                c.onUpstreamFailed(failure, serverTimeout: 30),
                .answer(HTTPError(502, "backend closed the connection without a valid response")), "\(failure)")
        }
    }

    func testAFailureAfterTheAnswerStartedCutsTheResponseShort() {
        for failure in [HTTPConnection.UpstreamFailure.broke(readNothing: false, reused: false), .timedOut(connected: true)] {
            var c = exchanging()
            _ = c.onResponseHead(status: 200, untilClose: false, clientEOF: false, stopping: false)
            XCTAssertEqual(c.onUpstreamFailed(failure, serverTimeout: 30), .abort)
            XCTAssertEqual(c.state, .closed)
        }
        var d = exchanging()
        _ = d.onResponseHead(status: 200, untilClose: false, clientEOF: false, stopping: false)
        XCTAssertEqual(d.onFailed(HTTPError(502, "late")), .abort, "no error page inside a started response")
        XCTAssertEqual(d.onAbort(), .none, "aborting twice does nothing")
    }

    func testLateBackendEventsAfterTheExchangeDoNothing() {
        var c = exchanging()
        _ = c.onResponseHead(status: 200, untilClose: false, clientEOF: false, stopping: false)
        _ = c.onResponseComplete(requestDone: true, stopping: false, now: 1)
        XCTAssertEqual(c.onUpstreamFailed(.broke(readNothing: true, reused: true), serverTimeout: 30), .none)
        XCTAssertEqual(c.onResponseHead(status: 200, untilClose: false, clientEOF: false, stopping: false), .none)
        XCTAssertEqual(c.onResponseComplete(requestDone: true, stopping: false, now: 2), .none)
    }

    // MARK: WebSocket tunnels

    func test101BecomesATunnelOnlyWhereAllowed() {
        var allowed = exchanging(tunnel: true, retryable: false)
        XCTAssertEqual(allowed.onResponseHead(status: 101, untilClose: false, clientEOF: false, stopping: false), .startTunnel)
        XCTAssertTrue(allowed.isTunnel)
        XCTAssertFalse(allowed.readsRequests)
        XCTAssertFalse(allowed.onTunnelProgress(clientEOF: true, upstreamEOF: false, buffersEmpty: true), "one side still open")
        XCTAssertFalse(allowed.onTunnelProgress(clientEOF: true, upstreamEOF: true, buffersEmpty: false), "bytes still to write")
        XCTAssertTrue(allowed.onTunnelProgress(clientEOF: true, upstreamEOF: true, buffersEmpty: true))
        XCTAssertEqual(allowed.state, .closed)

        var unasked = exchanging(tunnel: false)
        XCTAssertEqual(
            unasked.onResponseHead(status: 101, untilClose: false, clientEOF: false, stopping: false),
            .answer(HTTPError(502, "backend switched protocols unasked")))
    }

    // MARK: Reuse of backend connections

    func testABackendConnectionIsReusedOnlyWhenNothingIsLeftOnIt() {
        func reusable(
            closes: Bool = false, minor: Int = 1, requestDone: Bool = true, eof: Bool = false, unread: Int = 0, unsent: Int = 0
        ) -> Bool {
            HTTPConnection.reusable(
                responseCloses: closes, responseMinor: minor, requestDone: requestDone, upstreamEOF: eof, unreadBytes: unread,
                unsentBytes: unsent)
        }
        XCTAssertTrue(reusable())
        XCTAssertFalse(reusable(closes: true))
        XCTAssertFalse(reusable(minor: 0), "HTTP/1.0 backend")
        XCTAssertFalse(reusable(requestDone: false))
        XCTAssertFalse(reusable(eof: true))
        XCTAssertFalse(reusable(unread: 1), "a backend must not speak unasked")
        XCTAssertFalse(reusable(unsent: 1))
    }
}
