/// The life of one client connection of the load balancer's HTTP mode, as decisions without I/O:
/// events in (bytes buffered, a head parsed, the backend's answer, a failure, a deadline), actions
/// out, which the libevent shell (`HTTPSession`) carries out. The shell owns the bytes; this owns
/// what happens next and when the connection's timer is due.
///
/// ```
///            bytes            routed               final response done
///  waiting ────────▶ readingHead ───▶ exchanging ─────────────────────▶ waiting (keep-alive)
///     │  ▲               │               │  │ 101 (WebSocket allowed)
///     │  └───────────────┼───────────────┘  └──────────────────▶ tunnel ──▶ closed
///     │    deadline,     │ error: answer    │ error before the answer: answer it
///     │    client EOF    ▼                  ▼
///     └──────────────▶ closed ◀── lingering ◀── closing (the LB's or the last answer going out)
/// ```
/// Legal transitions only: every event names the states it acts in and is a no-op (`.none`,
/// `.wait`) elsewhere, so a late event — a timer that fired as the connection moved on, a
/// backend byte after an abort — cannot act twice.
public struct HTTPConnection: Sendable {
    public enum State: Sendable, Equatable {
        /// No request in progress: a new connection, or one kept alive between requests.
        case waiting
        /// Part of a request head is buffered; it must be complete before the deadline.
        case readingHead
        /// A request is with a backend.
        case exchanging(Exchange)
        /// After `101 Switching Protocols` on a route that allows WebSocket: bytes both ways.
        case tunnel
        /// A last answer (the backend's or the LB's own) is being written; then a half-close.
        case closing
        /// Half-closed: the client's bytes are read and discarded until it closes, so unread bytes
        /// cannot turn the close into a reset that destroys the answer.
        case lingering
        case closed
    }

    /// What the decisions about one request need to know.
    public struct Exchange: Sendable, Equatable {
        /// The connection ends after this exchange (the client asked, the LB is stopping, or the
        /// response is delimited by the close).
        public var closeAfter: Bool
        /// The route allows WebSocket and the request asked for it.
        public var tunnelAllowed: Bool
        /// Idempotent and without a body, and nothing answered yet: should a pooled connection
        /// turn out dead, one retry on a fresh connection is safe.
        public var retryable: Bool
        /// The backend's final response head went to the client: a failure now can only cut the
        /// response short.
        public var answered: Bool

        public init(closeAfter: Bool, tunnelAllowed: Bool, retryable: Bool, answered: Bool = false) {
            self.closeAfter = closeAfter
            self.tunnelAllowed = tunnelAllowed
            self.retryable = retryable
            self.answered = answered
        }
    }

    public struct Timeouts: Sendable, Equatable {
        /// Seconds a request head may take to arrive (the first one counts from the accept).
        public var request: Double
        /// Seconds an idle kept-alive connection is kept.
        public var keepAlive: Double
        /// Seconds to discard a client's bytes after the last answer before closing anyway.
        public var linger: Double

        public init(request: Double, keepAlive: Double, linger: Double = 2) {
            self.request = request
            self.keepAlive = keepAlive
            self.linger = linger
        }
    }

    public private(set) var state = State.waiting
    /// When the connection's timer is due (monotonic seconds); nil while none runs.
    public private(set) var deadline: Double?
    /// The timeout the latest deadline was set from (one of `timeouts`, so the shell can use
    /// libevent's shared timer queues), and a count that changes with every new deadline: the
    /// shell re-arms or stops its one timer when it changes.
    public private(set) var timerSeconds: Double?
    public private(set) var timerGeneration = 0
    public let timeouts: Timeouts

    /// A connection just accepted: it owes its first request head promptly.
    public init(timeouts: Timeouts, now: Double) {
        self.timeouts = timeouts
        setDeadline(timeouts.request, now: now)
    }

    public var isClosed: Bool { state == .closed }
    public var isTunnel: Bool { state == .tunnel }
    /// Client bytes are requests (or their bodies) now, not tunnel traffic or bytes to discard.
    public var readsRequests: Bool {
        switch state {
        case .waiting, .readingHead, .exchanging: return true
        case .tunnel, .closing, .lingering, .closed: return false
        }
    }

    /// The LB is stopping: a connection waiting for a request gets at most a second more.
    public mutating func onStopping(now: Double) {
        guard state == .waiting else { return }
        setDeadline(min(1, timeouts.keepAlive), now: now)
    }

    // MARK: The client's bytes

    public enum InputAction: Sendable, Equatable {
        /// Nothing to do until more bytes come.
        case wait
        /// A request head may be complete: scan it (`onHeadIncomplete`, `onRejected` or `onRouted` follow).
        case parseHead
        /// Move request body bytes toward the backend.
        case forwardBody
        case close
    }

    /// What buffered client bytes (and the client's end of stream) call for.
    /// `now` is read only when a deadline moves (most calls need no clock).
    public mutating func onClientInput(buffered: Int, eof: Bool, now: @autoclosure () -> Double) -> InputAction {
        switch state {
        case .waiting:
            guard buffered > 0 else { return eof ? close() : .wait }
            state = .readingHead
            setDeadline(timeouts.request, now: now())
            return .parseHead
        case .readingHead:
            guard buffered > 0 else { return eof ? close() : .wait }
            return .parseHead
        case .exchanging: return .forwardBody
        case .lingering: return eof ? close() : .wait
        case .tunnel, .closing, .closed: return .wait
        }
    }

    /// The head is not all there yet.
    public mutating func onHeadIncomplete(eof: Bool) -> InputAction { eof ? close() : .wait }

    /// The request was routed and sent on its way: no deadline until the exchange ends (the
    /// backend's own timeouts run on its connection).
    public mutating func onRouted(_ exchange: Exchange) {
        guard state == .readingHead else { return }
        state = .exchanging(exchange)
        setDeadline(nil, now: 0)
    }

    // MARK: Answers of the LB's own, aborts

    public enum AnswerAction: Sendable, Equatable {
        case none
        /// Write this error, then close (the request's accounting ends if one was in flight).
        case answer(HTTPError)
        /// A response is already under way: flush what is there and close at once, so the client
        /// cannot take a cut-short response as complete.
        case abort
    }

    /// Something failed: the request was refused (bad head, no route, too large, no backend),
    /// or its backend failed before answering. Once an answer is under way, only an abort is left.
    public mutating func onFailed(_ error: HTTPError) -> AnswerAction {
        switch state {
        case .waiting, .readingHead:
            toClosing()
            return .answer(error)
        case .exchanging(let ex):
            if ex.answered { return onAbort() }
            toClosing()
            return .answer(error)
        case .tunnel: return onAbort()
        case .closing, .lingering, .closed: return .none
        }
    }

    /// A complete answer of the LB's own (a redirect) is being written, then the connection closes.
    public mutating func onOwnAnswer() -> Bool {
        guard state == .readingHead || state == .waiting else { return false }
        toClosing()
        return true
    }

    /// The response was cut short (or the connection must end at once).
    public mutating func onAbort() -> AnswerAction {
        guard state != .closed else { return .none }
        onClosed()
        return .abort
    }

    /// The shell closed the connection (or is about to).
    public mutating func onClosed() {
        state = .closed
        if deadline != nil { setDeadline(nil, now: 0) }
    }

    // MARK: The backend

    public enum UpstreamFailure: Sendable, Equatable {
        /// Its timer fired: `connected` says whether the connect had completed.
        case timedOut(connected: Bool)
        /// The connection closed or failed; `readNothing`: no byte of an answer came, `reused`:
        /// it came from the pool (a keep-alive race, not the backend refusing this request).
        case broke(readNothing: Bool, reused: Bool)
    }

    public enum UpstreamAction: Sendable, Equatable {
        case none
        /// The request reached no backend: try the next candidate (502 when none is left).
        case tryNextBackend
        /// Send the kept head again on a fresh connection to the same backend.
        case retryOnFreshConnection
        case answer(HTTPError)
        case abort
    }

    /// The backend's connection failed or timed out; what the request's state allows.
    public mutating func onUpstreamFailed(_ failure: UpstreamFailure, serverTimeout: Double) -> UpstreamAction {
        guard case .exchanging(var ex) = state else { return .none }
        switch failure {
        case .timedOut(connected: false): return .tryNextBackend
        case .timedOut(connected: true):
            return ex.answered
                ? upstream(onAbort())
                : upstream(onFailed(HTTPError(504, "backend did not answer within \(Int(serverTimeout)) s")))
        case .broke(let readNothing, let reused):
            if ex.answered { return upstream(onAbort()) }
            if readNothing && reused && ex.retryable {
                ex.retryable = false
                state = .exchanging(ex)
                return .retryOnFreshConnection
            }
            return upstream(onFailed(HTTPError(502, "backend closed the connection without a valid response")))
        }
    }

    private func upstream(_ a: AnswerAction) -> UpstreamAction {
        switch a {
        case .none: return .none
        case .answer(let e): return .answer(e)
        case .abort: return .abort
        }
    }

    public enum HeadAction: Sendable, Equatable {
        case none
        /// Forward a 1xx head and wait for the final one.
        case forwardInterim
        /// Forward the final head; `close`: say `connection: close` and end after this response.
        case forward(close: Bool)
        /// Forward the 101 and become a tunnel.
        case startTunnel
        case answer(HTTPError)
    }

    /// The backend's response head arrived. `untilClose`: its body ends with the connection.
    public mutating func onResponseHead(status: Int, untilClose: Bool, clientEOF: Bool, stopping: Bool) -> HeadAction {
        guard case .exchanging(var ex) = state, !ex.answered else { return .none }
        if status == 101 && !ex.tunnelAllowed {
            guard case .answer(let e) = onFailed(HTTPError(502, "backend switched protocols unasked")) else { return .none }
            return .answer(e)
        }
        ex.retryable = false
        if (100..<200).contains(status) && status != 101 {
            state = .exchanging(ex)
            return .forwardInterim
        }
        ex.answered = true
        ex.closeAfter = ex.closeAfter || untilClose || clientEOF || stopping
        if status == 101 {
            state = .tunnel
            return .startTunnel
        }
        state = .exchanging(ex)
        return .forward(close: ex.closeAfter)
    }

    /// Whether a backend connection can carry another request once this response is complete.
    public static func reusable(
        responseCloses: Bool, responseMinor: Int, requestDone: Bool, upstreamEOF: Bool, unreadBytes: Int, unsentBytes: Int
    ) -> Bool {
        !responseCloses && responseMinor == 1 && requestDone && !upstreamEOF && unreadBytes == 0 && unsentBytes == 0
    }

    public enum CompleteAction: Sendable, Equatable {
        case none
        /// Keep the connection for the next request (take up a pipelined one at once).
        case keepAlive
        /// Write what is left, then close.
        case close
    }

    /// The response is complete. `requestDone`: the client's body was all read (if not, what
    /// is left of it cannot be told from the next request: close).
    public mutating func onResponseComplete(requestDone: Bool, stopping: Bool, now: @autoclosure () -> Double) -> CompleteAction {
        guard case .exchanging(let ex) = state, ex.answered else { return .none }
        if ex.closeAfter || !requestDone {
            toClosing()
            return .close
        }
        state = .waiting
        // A stopping LB lets clients finish, but not hold connections open for a whole keep-alive.
        setDeadline(stopping ? min(1, timeouts.keepAlive) : timeouts.keepAlive, now: now())
        return .keepAlive
    }

    // MARK: Writing, deadlines, the tunnel

    /// Everything queued for the client went out. In `closing`, that was the last answer: half-close
    /// and linger (returns true: the shell shuts its write side and reads to discard).
    public mutating func onClientFlushed(now: @autoclosure () -> Double) -> Bool {
        guard state == .closing else { return false }
        state = .lingering
        setDeadline(timeouts.linger, now: now())
        return true
    }

    public enum DeadlineAction: Sendable, Equatable {
        case none
        case close
        case answer(HTTPError)
        /// The timer fired before the deadline (it was moved): run it again for this many seconds.
        case rearm(Double)
    }

    /// The connection's timer fired. `buffered`: client bytes waiting unparsed.
    public mutating func onDeadline(now: Double, buffered: Int) -> DeadlineAction {
        guard let due = deadline else { return .none }
        // libevent's coarse clock may fire a timer a few milliseconds early against this one;
        // more than that means the deadline moved after the timer was set.
        if now + 0.01 < due { return .rearm(due - now) }
        switch state {
        case .waiting, .closing, .lingering:
            onClosed()
            return .close
        case .readingHead:
            if buffered == 0 {
                onClosed()
                return .close
            }
            toClosing()
            return .answer(HTTPError(408, "request head not complete in time"))
        case .exchanging, .tunnel, .closed: return .none
        }
    }

    /// In a tunnel: both sides ended and every byte went out — close.
    public mutating func onTunnelProgress(clientEOF: Bool, upstreamEOF: Bool, buffersEmpty: Bool) -> Bool {
        guard state == .tunnel, clientEOF && upstreamEOF && buffersEmpty else { return false }
        onClosed()
        return true
    }

    /// The deadline running stays: a connection refused while its head was due still closes at
    /// that time should the client never read the answer (during an exchange none runs, and the
    /// client socket's idle timeout covers it).
    private mutating func toClosing() {
        state = .closing
    }

    private mutating func setDeadline(_ seconds: Double?, now: Double) {
        deadline = seconds.map { now + $0 }
        timerSeconds = seconds
        timerGeneration &+= 1
    }

    private mutating func close() -> InputAction {
        onClosed()
        return .close
    }
}
