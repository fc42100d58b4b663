/// The backend with the fewest open connections (from this worker); ties go round-robin.
public struct LeastConnections: Balancer {
    var active: [Backend: Int] = [:]
    var tieBreak = 0
    public init() {}
    public mutating func pick(_ backends: [Backend], client: UInt64) -> Backend? {
        guard let least = backends.map({ active[$0, default: 0] }).min() else { return nil }
        let candidates = backends.filter { active[$0, default: 0] == least }
        tieBreak &+= 1
        let chosen = candidates[tieBreak % candidates.count]
        active[chosen, default: 0] += 1
        return chosen
    }
    public mutating func released(_ backend: Backend) {
        if let n = active[backend] { active[backend] = n > 1 ? n - 1 : nil }
    }
    public func count(_ b: Backend) -> Int { active[b, default: 0] }
}
