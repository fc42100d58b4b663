import PacerModel

/// An agent's standing with the master: whether it must register or may heartbeat, which master
/// to call, and how long to wait before the next call. Real agents and simulated ones both follow
/// it, so what the master sees from a slow moment is the same from either.
///
/// A heartbeat that times out does not make the agent register again. It used to: one master busy
/// for 5 s turned every agent's next call into a registration carrying all of its tasks, which the
/// master decodes in full, so the busy master got busier, more heartbeats timed out, and agents
/// silent for their timeout were declared unreachable with their tasks (2,000 simulated agents at
/// 400 kills a second: 882 agents marked unreachable, the fleet spending 63 % of its CPU encoding
/// registrations, 11,000 tasks killed as surplus when their agents came back; issue 12). Only the
/// master says "register again" (404); a master that refuses connections or has no leader is left
/// for the next; one that stays silent `maxTimeouts` calls in a row is taken for gone.
/// Failed calls back off, doubling from `firstRetry` to `maxRetry`, with jitter so that agents that
/// failed together do not retry together.
public struct MasterSession: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        /// `failures`: registrations in a row that did not succeed.
        case unregistered(failures: Int)
        /// `timeouts`: heartbeats in a row that got no answer.
        case registered(timeouts: Int)
    }

    /// What became of a call.
    public enum Outcome: Sendable, Equatable {
        /// The master answered with this status (200: done; 404: it does not know the agent).
        case answered(status: Int)
        /// It certainly did not get there (refused, no connection), or the master does not lead.
        case elsewhere
        /// Sent, no answer in time: the master may be alive and busy.
        case timedOut
    }

    public enum Call: Sendable, Equatable {
        case register
        case heartbeat
    }

    /// What to do next: the call, on which master (an index into the agent's list), after how long.
    public struct Next: Sendable, Equatable {
        public var call: Call
        public var master: Int
        public var after: Duration
    }

    public static let firstRetry: Duration = .milliseconds(250)
    public static let maxRetry: Duration = .seconds(8)
    /// Heartbeats in a row without an answer before the master counts as gone: five, with the
    /// waits between, outlast a busy moment but stay well inside the master's agent timeout.
    public static let maxTimeouts = 5

    public private(set) var state: State = .unregistered(failures: 0)
    public private(set) var master: Int

    public init(master: Int = 0) { self.master = master }

    public var registered: Bool { if case .registered = state { true } else { false } }

    /// The call to make now.
    public var call: Call { registered ? .heartbeat : .register }

    /// The election named another master (or the agent must register again for another reason):
    /// register there now.
    public mutating func reset(master: Int) {
        self.master = master
        state = .unregistered(failures: 0)
    }

    /// A follower redirected the call to the master at `index`, which answered: the one to call.
    public mutating func answered(by index: Int) { master = index }

    /// How the call went; `interval`: the master's heartbeat interval; `jitter` in 0...1.
    public mutating func after(_ outcome: Outcome, interval: Duration, jitter: Double) -> Next {
        switch (state, outcome) {
        case (.unregistered, .answered(200)), (.registered, .answered(200)):
            state = .registered(timeouts: 0)
            return Next(call: .heartbeat, master: master, after: interval)
        case (.registered, .answered(404)):
            state = .unregistered(failures: 0)
            return Next(call: .register, master: master, after: .zero)
        case (.registered(let timeouts), .timedOut) where timeouts + 1 < Self.maxTimeouts:
            state = .registered(timeouts: timeouts + 1)
            return Next(call: .heartbeat, master: master, after: min(interval, Self.backoff(timeouts + 1, jitter: jitter)))
        case (.registered, .timedOut), (.registered, .elsewhere):
            // Gone, or not leading: the next master, where the agent must register.
            master += 1
            state = .unregistered(failures: 1)
            return Next(call: .register, master: master, after: Self.backoff(1, jitter: jitter))
        case (.registered, .answered):
            // Any other answer: the master is there; try again in a while, still registered.
            return Next(call: .heartbeat, master: master, after: interval)
        case (.unregistered(let failures), _):
            if outcome == .elsewhere { master += 1 }
            state = .unregistered(failures: failures + 1)
            return Next(call: .register, master: master, after: Self.backoff(failures + 1, jitter: jitter))
        }
    }

    /// The wait after the `n`th failure in a row: `firstRetry` doubled n−1 times, at most
    /// `maxRetry`, between half and all of that (`jitter` 0 → half).
    static func backoff(_ n: Int, jitter: Double) -> Duration {
        let full = min(Self.maxRetry, Self.firstRetry * (1 << min(max(n - 1, 0), 16)))
        return full * (0.5 + 0.5 * min(max(jitter, 0), 1))
    }
}
