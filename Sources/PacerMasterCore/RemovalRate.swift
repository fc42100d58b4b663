import PacerModel

/// How fast the master may declare agents unreachable (Mesos' `--agent_removal_rate_limit`,
/// Kubernetes' node eviction rate): `permits` agents at once, then one more every
/// `period / permits`.
///
/// Marking an agent unreachable makes every framework replace its tasks. When many agents fall
/// silent together the cause is more often on the master's side of the wire (a switch, a
/// partition, a master or a machine too busy to hear them) than many machines failing at once;
/// marking them all replaces thousands of tasks that are still serving, and kills the copies
/// when the agents come back. The limit bounds that: the oldest silence is marked first, the rest
/// wait for a permit, and an agent heard from while it waits is simply reachable again.
public struct RemovalRate: Sendable, Equatable, CustomStringConvertible {
    public var permits: Int
    public var period: Duration

    public init(permits: Int, period: Duration) {
        precondition(permits > 0 && period > .zero, "a removal rate lets at least one agent go per period")
        self.permits = permits
        self.period = period
    }

    /// Ten agents at once, then one every six seconds: a rack of 40 machines that really died is
    /// marked within three minutes; a partition of half of 2,000 agents for ten minutes marks at
    /// most 110 of them instead of 1,000.
    public static let standard = RemovalRate(permits: 10, period: .seconds(60))

    /// `N/DURATION` as Mesos writes it (`1/20mins`, `10/1mins`, `100/30secs`); units `ms`, `s`,
    /// `secs`, `m`, `mins`, `h`, `hrs`, `d`, `days`.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let permits = Int(parts[0]), permits > 0 else { return nil }
        let spec = parts[1]
        let digits = spec.prefix { $0.isNumber || $0 == "." }
        let unit = spec.dropFirst(digits.count)
        let scale: Double? =
            switch unit {
            case "ms": 0.001
            case "s", "sec", "secs": 1
            case "m", "min", "mins": 60
            case "h", "hr", "hrs": 3_600
            case "d", "day", "days": 86_400
            default: nil
            }
        guard let scale, let count = Double(digits), count > 0 else { return nil }
        self.init(permits: permits, period: .seconds(count * scale))
    }

    public var description: String { "\(permits)/\(period.seconds)s" }
}

/// The permits left under a `RemovalRate`: a token bucket, full at the start.
struct RemovalBucket: Sendable {
    let rate: RemovalRate?
    private var tokens: Double
    private var last: Instant

    init(rate: RemovalRate?, now: Instant) {
        self.rate = rate
        tokens = Double(rate?.permits ?? 0)
        last = now
    }

    /// Takes a permit if one is there now.
    mutating func take(now: Instant) -> Bool {
        guard let rate else { return true }
        refill(now, rate)
        guard tokens >= Self.whole else { return false }
        tokens -= 1
        return true
    }

    /// When the next permit will be there (now, when one is).
    mutating func nextPermit(now: Instant) -> Instant {
        guard let rate else { return now }
        refill(now, rate)
        return tokens >= Self.whole ? now : now + rate.period * ((1 - tokens) / Double(rate.permits))
    }

    /// A permit, give or take rounding: refilled to exactly the instant `nextPermit` named, the
    /// bucket must hold one.
    private static let whole = 1 - 1e-9

    private mutating func refill(_ now: Instant, _ rate: RemovalRate) {
        let elapsed = max(0, now.timeIntervalSince(last))
        last = max(last, now)
        tokens = min(Double(rate.permits), tokens + elapsed * Double(rate.permits) / rate.period.seconds)
    }
}
