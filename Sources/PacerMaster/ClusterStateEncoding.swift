import Foundation
import PacerModel
import Synchronization

/// `/state` and `/state-summary` as JSON, each agent's part encoded again only when it changed.
/// Encoding every agent was 37 µs each: a framework's summary poll at 10,000 agents cost the
/// master 0.37 s of CPU, a quarter of its idle load (perf, issue 12), and grows with the cluster;
/// comparing an agent with the one last encoded costs a small fraction of that.
final class ClusterStateEncoding: Sendable {
    private struct Encoded: Sendable {
        var agent: ClusterState.Agent
        var json: Data
    }
    /// Per shape (with tasks or without), per agent: what was encoded last.
    private let cache = Mutex<[Bool: [String: Encoded]]>([:])

    func encode(_ state: ClusterState, withTasks: Bool) throws -> Data {
        let encoder = WireJSON.masterEncoder()
        let before = cache.withLock { $0[withTasks] ?? [:] }
        var now: [String: Encoded] = [:]
        now.reserveCapacity(state.agents.count)
        var agents = Data("[".utf8)
        for (i, agent) in state.agents.enumerated() {
            let json: Data
            if let old = before[agent.id], old.agent == agent {
                json = old.json
            } else {
                json = try encoder.encode(agent)
            }
            now[agent.id] = Encoded(agent: agent, json: json)
            if i > 0 { agents.append(UInt8(ascii: ",")) }
            agents.append(json)
        }
        agents.append(UInt8(ascii: "]"))
        cache.withLock { $0[withTasks] = now }  // agents gone from the cluster leave the cache here
        // The rest of the state is small: encoded whole, with the agents spliced in. Inside a JSON
        // string a quote is escaped, so `"agents":[]` can only be the key itself.
        var rest = state
        rest.agents = []
        let shell = try encoder.encode(rest)
        let marker = Data(#""agents":[]"#.utf8)
        guard let at = shell.range(of: marker) else { return try encoder.encode(state) }
        var out = Data(capacity: shell.count + agents.count)
        out.append(shell[shell.startIndex..<at.lowerBound])
        out.append(Data(#""agents":"#.utf8))
        out.append(agents)
        out.append(shell[at.upperBound...])
        return out
    }
}
