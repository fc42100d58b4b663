/// Things to look at again once their deadline has passed, so a periodic tick looks at those
/// instead of at everything it might have to act on. Passes over everything each tick grew with
/// the cluster: at 10,000 agents the master's refusal pass was a fifth of its idle CPU, and an
/// overloaded framework spent half its CPU looking at 12,000 tasks being killed twice a second to
/// find the few whose kill was due again (perf, issue 12).
///
/// Filed by the whole second at or after the deadline, so nothing is handed back before its
/// deadline and at most a second after. What is handed back is off the list: a caller that finds
/// something not yet due (its deadline moved) files it again.
public struct Wakeups<ID: Hashable & Sendable>: Sendable, Equatable {
    private var bySecond: [Int64: Set<ID>] = [:]
    /// The earliest second filed: ticks before it cost one comparison.
    private var earliest = Int64.max

    public init() {}

    public mutating func add(_ id: ID, at deadline: Instant) {
        let second = Int64(deadline.secondsSince1970.rounded(.up))
        bySecond[second, default: []].insert(id)
        earliest = min(earliest, second)
    }

    /// What was filed for `now` or earlier, taken off the list.
    public mutating func due(now: Instant) -> Set<ID> {
        guard Double(earliest) <= now.secondsSince1970 else { return [] }
        var out = Set<ID>()
        for second in bySecond.keys where Double(second) <= now.secondsSince1970 {
            out.formUnion(bySecond.removeValue(forKey: second) ?? [])
        }
        earliest = bySecond.keys.min() ?? .max
        return out
    }
}
