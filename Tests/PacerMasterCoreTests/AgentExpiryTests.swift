import PacerMasterCore
import PacerModel
import XCTest

/// The expiry scan runs only once the earliest deadline can have passed: whatever the order of
/// registrations, heartbeats and ticks, each agent must still be declared unreachable at the
/// first tick past its own deadline, and never before.
final class AgentExpiryTests: XCTestCase {
    func testEachSilentAgentExpiresAtTheFirstTickPastItsDeadlineAndNoSooner() {
        var settings = MasterSettings()
        settings.agentTimeout = .seconds(4)
        settings.heartbeat = .seconds(1)
        // Two a second: each registration stretches the interval the next ones are told.
        settings.maxHeartbeatsPerSecond = 2
        // Deadlines only; the removal rate has its own tests (RemovalRateTests).
        settings.agentRemovalRate = nil
        var rng = SeededRandom(seed: 12)
        var m = MasterCore(settings: settings, now: 0, idPrefix: "t")
        // What the master must conclude, kept the slow way: per agent its deadline.
        var deadline: [String: Instant] = [:]
        var unreachable: Set<String> = []
        var now: Instant = 0
        func timeout() -> Duration {
            settings.agentTimeout + max(.zero, m.heartbeatInterval - settings.heartbeat) * 3
        }
        for round in 0..<3_000 {
            now += .seconds(Double.random(in: 0.05...1.5, using: &rng))
            let id = "a\(Int.random(in: 0..<12, using: &rng))"
            switch Int.random(in: 0..<10, using: &rng) {
            case 0:
                let info = AgentInfo(id: id, hostname: id, url: "http://\(id)", resources: Resources(cpus: 1, mem: 64))
                _ = m.onRegisterAgent(info, tasks: [], now: now)
                deadline[id] = now + timeout()
                unreachable.remove(id)
            case 1...5:
                let answer = m.onHeartbeat(agentId: id, now: now)
                if deadline[id] != nil, !unreachable.contains(id) {
                    XCTAssertEqual(answer, .recorded, "round \(round)")
                    deadline[id] = now + timeout()
                } else {
                    XCTAssertEqual(answer, .registerAgain, "round \(round)")
                }
            default:
                _ = m.onTick(now: now)
                for (agent, due) in deadline where !unreachable.contains(agent) && now > due { unreachable.insert(agent) }
            }
            let marked = Set(m.agents.filter { !$0.value.reachable }.keys)
            XCTAssertEqual(marked, unreachable, "round \(round) at \(now)")
        }
        // The walk reached both outcomes many times over.
        XCTAssertGreaterThan(m.unreachableMarks, 20)
    }
}
