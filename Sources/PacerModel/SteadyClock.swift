import Foundation

/// Wall-clock time that never jumps: the wall clock read once, advanced since by the monotonic
/// clock. The shells give their cores `now` from here, so an NTP step or a hand-set clock cannot
/// fire every timeout, backoff and drain at once, or hold them all back (F14); leases already
/// run on the monotonic clock. After a jump, timestamps differ from the wall clock by its size
/// until the process restarts — a visible offset, instead of tasks replaced and deployments
/// failed by a clock.
public struct SteadyClock: Sendable {
    private let wallOrigin: Date
    private let monotonicOrigin: ContinuousClock.Instant
    private let monotonic: @Sendable () -> ContinuousClock.Instant

    public init(
        wall: Date = Date(), monotonic: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        wallOrigin = wall
        self.monotonic = monotonic
        monotonicOrigin = monotonic()
    }

    /// The process's clock, started at its first use.
    public static let process = SteadyClock()

    public static var now: Date { process.now }
    /// The same moment as the cores take it.
    public static var instant: Instant { Instant(process.now) }

    public var now: Date {
        let elapsed = monotonic() - monotonicOrigin
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return wallOrigin.addingTimeInterval(seconds)
    }
}
