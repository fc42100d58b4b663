import PacerModel

/// Marathon's placement constraints over `hostname` and agent attributes.
public enum ConstraintCheck {
    /// Whether one more task of the app may go on this agent, given where its tasks are now.
    public static func accepts(
        _ constraints: [Constraint], hostname: String, attributes: [String: String],
        placed: [TaskRecord]
    ) -> Bool {
        constraints.allSatisfy { accepts($0, hostname: hostname, attributes: attributes, placed: placed) }
    }

    static func value(_ field: String, hostname: String, attributes: [String: String]) -> String? {
        field == "hostname" ? hostname : attributes[field]
    }

    static func accepts(_ c: Constraint, hostname: String, attributes: [String: String], placed: [TaskRecord]) -> Bool {
        let mine = value(c.field, hostname: hostname, attributes: attributes)
        let others = placed.map { value(c.field, hostname: $0.host, attributes: $0.agentAttributes) }
        switch c.op {
        case .unique:
            guard let mine else { return false }
            return !others.contains(mine)
        case .cluster:
            guard let mine else { return false }
            if let v = c.value, !v.isEmpty { return mine == v }
            return others.allSatisfy { $0 == mine }
        case .like, .unlike:
            let matches = mine.map { v in (try? Regex(c.value ?? "").wholeMatch(in: v)) != nil } ?? false
            return c.op == .like ? matches : !matches
        case .maxPer:
            guard let mine, let limit = c.value.flatMap(Int.init) else { return false }
            return others.filter { $0 == mine }.count < limit
        case .groupBy:
            guard let mine else { return false }
            var counts: [String: Int] = [:]
            for case let v? in others { counts[v, default: 0] += 1 }
            let groups = c.value.flatMap(Int.init) ?? 0
            // Fewer groups in use than asked for: an empty group is the least loaded.
            let least = counts.count < groups ? 0 : (counts.values.min() ?? 0)
            return counts[mine, default: 0] <= least
        }
    }
}
