import Foundation
import PacerModel

/// What the framework is doing with one task it holds, beside what the task's agent last reported
/// (`TaskRecord.state`). Each state carries its own data, and these are the only transitions
/// (swift-cluster-membership's `SWIM.Status` is the model):
///
///     kept ──kill, running and load balancers follow──▶ draining(waitingFor, since, unhealthy)
///     kept ──kill otherwise─────────────────────────────▶ killing(askedAt, unhealthy)   KILL sent
///     draining ──last LB acknowledged, left, or the drain timed out──▶ killing(askedAt) KILL sent
///     killing ──no terminal status within killRetrySeconds──▶ killing(askedAt: now)     KILL again
///     any ──terminal status, or expunged──▶ forgotten with the task record
///
/// A task that is not kept never counts as an instance again: nothing moves it back to `kept`.
/// `unreachableSince` and strays stay outside: unreachability is the agent's report about the task
/// (an unreachable task may be kept, drained or killed), and a stray is a task with no record.
public enum TaskLifecycle: Equatable, Sendable {
    case kept
    /// Out of rotation in the load balancers named in `waitingFor` once each acknowledges; then killed.
    case draining(waitingFor: Set<String>, since: Instant, unhealthy: Bool)
    /// The KILL went out at `askedAt` (and goes again if no terminal status follows).
    case killing(askedAt: Instant, unhealthy: Bool)

    /// What periodic work owes a task in this state at `now`.
    public enum Due: Equatable, Sendable {
        case finishDrain
        case repeatKill
    }

    /// The start of a kill: a running task is drained first from the load balancers following the
    /// framework; anything else (or with none following) is killed at once.
    static func kill(running: Bool, loadBalancers: Set<String>, unhealthy: Bool, now: Instant) -> TaskLifecycle {
        guard running, !loadBalancers.isEmpty else { return .killing(askedAt: now, unhealthy: unhealthy) }
        return .draining(waitingFor: loadBalancers, since: now, unhealthy: unhealthy)
    }

    /// Not kept: being drained or killed, so not an instance.
    public var isLeaving: Bool { self != .kept }

    public var isDraining: Bool {
        if case .draining = self { return true }
        return false
    }

    /// Killed (or being drained to be killed) for failing its health checks.
    public var isUnhealthyKill: Bool {
        switch self {
        case .kept: return false
        case .draining(_, _, let unhealthy), .killing(_, let unhealthy): return unhealthy
        }
    }

    /// The load balancers a drain still waits for (empty when not draining).
    public var waitingFor: Set<String> {
        if case .draining(let names, _, _) = self { return names }
        return []
    }

    /// Only load balancers in `names` are still waited for (one that acknowledged or left is not).
    /// Returns true when the drain is over and the KILL is to go out.
    mutating func keepWaiting(for names: Set<String>) -> Bool {
        guard case .draining(let waiting, let since, let unhealthy) = self else { return false }
        let left = waiting.intersection(names)
        self = .draining(waitingFor: left, since: since, unhealthy: unhealthy)
        return left.isEmpty
    }

    /// The drain is over: the KILL goes out now.
    mutating func killNow(_ now: Instant) {
        switch self {
        case .kept: self = .killing(askedAt: now, unhealthy: false)
        case .draining(_, _, let unhealthy), .killing(_, let unhealthy): self = .killing(askedAt: now, unhealthy: unhealthy)
        }
    }

    /// When `due` next has something to say (nil: never, the task is kept).
    func dueAt(drainTimeout: Duration, killRetry: Duration) -> Instant? {
        switch self {
        case .kept: nil
        case .draining(_, let since, _): since + drainTimeout
        case .killing(let asked, _): asked + killRetry
        }
    }

    /// Whether `now` is past the drain timeout or the kill retry interval.
    func due(now: Instant, drainTimeout: Duration, killRetry: Duration) -> Due? {
        switch self {
        case .kept: return nil
        case .draining(_, let since, _): return now - since >= drainTimeout ? .finishDrain : nil
        case .killing(let asked, _): return now - asked > killRetry ? .repeatKill : nil
        }
    }
}
