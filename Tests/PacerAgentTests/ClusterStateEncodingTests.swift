import Foundation
import PacerModel
import XCTest

@testable import PacerMaster

/// `/state` answers spliced from per-agent JSON kept between requests: what comes out must be
/// what encoding the whole state says, however agents change, come and go.
final class ClusterStateEncodingTests: XCTestCase {
    private func agent(_ i: Int, used: Double = 0, tasks: Int = 0) -> ClusterState.Agent {
        ClusterState.Agent(
            id: "a\(i)", hostname: "h\(i)", url: "http://h\(i):5051", reachable: true,
            resources: Resources(cpus: 8, mem: 32768, disk: 0, ports: [PortRange(31000, 31999)]),
            used: Resources(cpus: used, mem: used * 100), attributes: ["rack": "r\(i % 3)", "quote": "say \"agents\":[]"],
            reserved: i == 2 ? ["web": Resources(cpus: 1)] : nil,
            tasks: (0..<tasks).map { ClusterState.Task(id: "t\(i)-\($0)", frameworkId: "f", state: .running) })
    }

    private func parsed(_ data: Data) throws -> NSDictionary {
        try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? NSDictionary)
    }

    func testEachAnswerIsTheWholeStateEncodedHoweverAgentsChange() throws {
        let encoding = ClusterStateEncoding()
        let frameworks = [ClusterState.Framework(id: "f", name: "marathon \"agents\":[]", connected: true)]
        var state = ClusterState(agents: (0..<50).map { agent($0, tasks: $0 % 4) }, frameworks: frameworks, outstandingOffers: 7)
        let whole = { try self.parsed(WireJSON.masterEncoder().encode(state)) }
        XCTAssertEqual(try parsed(encoding.encode(state, withTasks: true)), try whole())
        // Unchanged, changed, gone and new agents; the same answer as encoding it whole.
        state.agents[3] = agent(3, used: 2.5, tasks: 5)
        state.agents.remove(at: 10)
        state.agents.append(agent(99))
        state.outstandingOffers = 2
        XCTAssertEqual(try parsed(encoding.encode(state, withTasks: true)), try whole())
        let decoded = try WireJSON.masterDecoder().decode(ClusterState.self, from: encoding.encode(state, withTasks: true))
        XCTAssertEqual(decoded, state)
        // The summary's cache is its own: the same agent without tasks is not the one with them.
        var summary = state
        for i in summary.agents.indices { summary.agents[i].tasks = [] }
        XCTAssertEqual(
            try parsed(encoding.encode(summary, withTasks: false)), try parsed(WireJSON.masterEncoder().encode(summary)))
        XCTAssertEqual(try parsed(encoding.encode(state, withTasks: true)), try whole())
        // No agents at all.
        let empty = ClusterState(agents: [], frameworks: [], outstandingOffers: 0)
        XCTAssertEqual(try parsed(encoding.encode(empty, withTasks: true)), try parsed(WireJSON.masterEncoder().encode(empty)))
    }
}
