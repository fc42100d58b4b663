import XCTest

@testable import PacerApps

final class KillQueueTests: XCTestCase {
    /// Batches name one agent's tasks, agents in the order of their oldest kill, and an agent
    /// with more than a batch goes to the back for the rest.
    func testBatchesNameOneAgentAndAgentsTakeTurns() {
        var q = KillQueue()
        for (task, agent) in [("a1", "A"), ("b1", "B"), ("a2", "A"), ("a3", "A"), ("c1", "C"), ("b2", "B")] {
            q.append(taskId: task, agentId: agent)
        }
        XCTAssertEqual(q.count, 6)
        var batches: [String] = []
        while let (agent, tasks) = q.next(max: 2) { batches.append("\(agent): \(tasks.joined(separator: ","))") }
        XCTAssertEqual(batches, ["A: a1,a2", "B: b1,b2", "C: c1", "A: a3"])
        XCTAssertTrue(q.isEmpty)
        XCTAssertEqual(q.count, 0)

        // An agent emptied and queued again takes a new turn at the back.
        q.append(taskId: "b3", agentId: "B")
        q.append(taskId: "a4", agentId: "A")
        XCTAssertEqual(q.next(max: 8)?.taskIds, ["b3"])
        XCTAssertEqual(q.next(max: 8)?.agentId, "A")
        XCTAssertNil(q.next(max: 8))
    }
}
