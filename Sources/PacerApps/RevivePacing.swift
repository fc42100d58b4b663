import PacerModel

/// How long after one REVIVE the next may go. Every REVIVE makes the master offer every agent
/// again (and its idle capacity, revocable): at 2,000 agents that is 4,000 offers for the master to
/// make and this framework to answer, about 0.2 ms of CPU each. With a scale request every few
/// hundred milliseconds while 50,000 tasks were placed, REVIVEs came 17 times a second, a full
/// pass of offers every second: 93,000 offers for 50,000 tasks and both processes busy with them.
/// The first REVIVE after a quiet spell goes at once; those following are spaced by the size of
/// the cluster (Marathon's `min_revive_offers_interval` is a flat 5 s), so that what they cost stays
/// a bounded share of the machine while a small cluster still answers at once.
struct RevivePacing: Sendable {
    /// Spacing per agent known, and at most.
    static let perAgent: Duration = .milliseconds(1)
    static let most: Duration = .seconds(2)

    private var last: Instant?

    /// The wait before a REVIVE asked for `now` may go, in a cluster of `agents`; the REVIVE is
    /// taken to go after that wait.
    mutating func wait(now: Instant, agents: Int) -> Duration {
        let spacing = min(Self.most, Self.perAgent * agents)
        let due = last.map { $0 + spacing } ?? now
        let at = max(now, due)
        last = at
        return at - now
    }
}
