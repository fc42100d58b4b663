import PacerModel

/// Agents to offer again when a framework's refusal of them runs out. A tick looks at the agents
/// whose refusals ended instead of every agent: a pass over every agent each second was a fifth
/// of an idle master's CPU at 10,000 agents (perf, issue 12), and grows with the cluster.
///
/// Filed by the whole second at or after the refusal's end, so an agent is never looked at before
/// its refusal ended (looked at early, it would be skipped and not looked at again) and at most
/// a second after (the full pass it replaces ran once a second).
struct RefusalWakeups: Sendable, Equatable {
    private var bySecond: [Int64: Set<String>] = [:]
    /// The earliest second filed: ticks before it cost one comparison.
    private var earliest = Int64.max

    mutating func add(_ agentId: String, at end: Instant) {
        let second = Int64(end.secondsSince1970.rounded(.up))
        bySecond[second, default: []].insert(agentId)
        earliest = min(earliest, second)
    }

    /// The agents whose refusals (filed up to `now`) have ended, taken off the list.
    mutating func due(now: Instant) -> Set<String> {
        guard Double(earliest) <= now.secondsSince1970 else { return [] }
        var out = Set<String>()
        for second in bySecond.keys where Double(second) <= now.secondsSince1970 {
            out.formUnion(bySecond.removeValue(forKey: second) ?? [])
        }
        earliest = bySecond.keys.min() ?? .max
        return out
    }
}
