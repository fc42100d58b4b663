import Foundation

/// What clients saw during a fault test, checked afterwards (Jepsen-style, much smaller):
/// every acknowledged write is in the final state, and each leadership epoch had one leader.
public actor ClientHistory {
    public private(set) var acknowledged: Set<String> = []
    public private(set) var failed = 0
    /// Slowest acknowledged write, seconds.
    public private(set) var slowestAck = 0.0
    var leaders: [Int64: Set<String>] = [:]
    var observations = 0

    public init() {}

    public func acked(_ key: String, after seconds: Double) {
        acknowledged.insert(key)
        slowestAck = max(slowestAck, seconds)
    }

    public func failedWrite() { failed += 1 }

    public func observed(leader: String, epoch: Int64) {
        leaders[epoch, default: []].insert(leader)
        observations += 1
    }

    public var epochs: Int { leaders.count }

    /// The checks: returns what went wrong, empty when the history is sound.
    public func problems(finalState: Set<String>) -> [String] {
        var out: [String] = []
        let lost = acknowledged.subtracting(finalState)
        if !lost.isEmpty { out.append("\(lost.count) acknowledged writes lost: \(lost.sorted().prefix(5))") }
        for (epoch, names) in leaders.sorted(by: { $0.key < $1.key }) where names.count > 1 {
            out.append("epoch \(epoch) had \(names.count) leaders: \(names.sorted())")
        }
        if observations == 0 { out.append("no leader was ever observed") }
        return out
    }
}
