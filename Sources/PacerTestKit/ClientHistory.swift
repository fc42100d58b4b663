import Foundation
import PacerClient

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

    /// What `GET /v2/leader` answers.
    /// `GET /v2/leader?embed=pacer`: the leader and its term.
    public struct LeaderAnswer: Decodable, Sendable {
        public struct Extra: Decodable, Sendable { public var epoch: Int64? }
        public var leader: String
        public var pacer: Extra?
        public var epoch: Int64? { pacer?.epoch }
    }

    /// Creates `/hist/<prefix>-N` apps one after another through `urls` (a replica each), moving to
    /// the next on any failure, as a Marathon client given several URLs does.
    public nonisolated func writer(_ urls: [String], prefix: String) -> Task<Void, Never> {
        Task {
            var i = 0
            var at = 0
            while !Task.isCancelled {
                i += 1
                let id = "/hist/\(prefix)-\(i)"
                let started = Date()
                let body = Data(#"{"id":"\#(id)","cmd":"sleep 1","instances":0,"cpus":0.01,"mem":8}"#.utf8)
                let r = try? await HTTPTransport(timeout: .seconds(10)).send(
                    .POST, urls[at % urls.count] + "/v2/apps", body: body)
                if r?.status == 201 {
                    await acked(id, after: Date().timeIntervalSince(started))
                } else {
                    await failedWrite()
                    at += 1
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
        }
    }

    /// Asks every replica who leads, every 100 ms.
    public nonisolated func observer(_ urls: [String]) -> Task<Void, Never> {
        Task {
            let transport = HTTPTransport(timeout: .seconds(1))
            while !Task.isCancelled {
                for url in urls {
                    guard let r = try? await transport.send(.GET, url + "/v2/leader?embed=pacer"), r.status == 200,
                        let answer = try? JSONDecoder().decode(LeaderAnswer.self, from: r.body), let epoch = answer.epoch
                    else { continue }
                    await observed(leader: answer.leader, epoch: epoch)
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}
