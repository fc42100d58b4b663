/// Picks a backend for a new connection. One implementation per algorithm (HAProxy's habit);
/// each keeps its own state, owned by one worker thread.
public protocol Balancer {
    mutating func pick(_ backends: [Backend], client: UInt64) -> Backend?
    /// A connection to `backend` ended (least-connections keeps counts).
    mutating func released(_ backend: Backend)
}

extension Balancer {
    public mutating func released(_ backend: Backend) {}
}

public enum Balancers {
    public static func make(_ algorithm: BalanceAlgorithm) -> any Balancer {
        switch algorithm {
        case .roundRobin: RoundRobin()
        case .leastConnections: LeastConnections()
        case .source: SourceHash()
        }
    }
}
