/// Each new connection goes to the next backend in turn.
public struct RoundRobin: Balancer {
    var next = 0
    public init() {}
    public mutating func pick(_ backends: [Backend], client: UInt64) -> Backend? {
        guard !backends.isEmpty else { return nil }
        defer { next &+= 1 }
        return backends[next % backends.count]
    }
}
