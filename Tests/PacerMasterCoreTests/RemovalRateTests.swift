import PacerMasterCore
import PacerModel
import XCTest

/// Agents that fall silent together are declared unreachable no faster than the removal rate
/// allows: the longest silent first, none before its own deadline, and one heard from while it
/// waits for a permit is not declared at all.
final class RemovalRateTests: XCTestCase {
    func testParsesMesosRateLimits() {
        XCTAssertEqual(RemovalRate(parsing: "10/1mins"), RemovalRate(permits: 10, period: .seconds(60)))
        XCTAssertEqual(RemovalRate(parsing: "1/20mins"), RemovalRate(permits: 1, period: .seconds(1_200)))
        XCTAssertEqual(RemovalRate(parsing: "100/30secs"), RemovalRate(permits: 100, period: .seconds(30)))
        XCTAssertEqual(RemovalRate(parsing: "5/1.5hrs"), RemovalRate(permits: 5, period: .seconds(5_400)))
        XCTAssertEqual(RemovalRate(parsing: "2/500ms"), RemovalRate(permits: 2, period: .milliseconds(500)))
        for bad in ["", "10", "10/", "/1mins", "0/1mins", "-1/1mins", "10/0mins", "10/1parsecs", "ten/1mins", "10/mins", "1/2/3s"]
        {
            XCTAssertNil(RemovalRate(parsing: bad), bad)
        }
    }

    private func master(_ rate: RemovalRate?) -> MasterCore {
        var settings = MasterSettings()
        settings.agentTimeout = .seconds(4)
        settings.heartbeat = .seconds(1)
        settings.agentRemovalRate = rate
        return MasterCore(settings: settings, now: 0, idPrefix: "t")
    }

    private func register(_ m: inout MasterCore, _ id: String, at now: Instant) {
        let info = AgentInfo(id: id, hostname: id, url: "http://\(id)", resources: Resources(cpus: 1, mem: 64))
        _ = m.onRegisterAgent(info, tasks: [], now: now)
    }

    private func unreachable(_ m: MasterCore) -> Set<String> { Set(m.agents.filter { !$0.value.reachable }.keys) }

    func testThirtySilentAgentsAreDeclaredTenAtOnceThenOneEverySixSeconds() {
        var m = master(RemovalRate(permits: 10, period: .seconds(60)))
        // Registered 0.1 s apart: a29's silence is the oldest, a00's the youngest.
        let ids = (0..<30).map { String(format: "a%02d", $0) }
        for (i, id) in ids.reversed().enumerated() { register(&m, id, at: Instant(secondsSince1970: Double(i) * 0.1)) }
        var now: Instant = 3
        var markedAt: [String: Instant] = [:]
        var heard: Set<String> = []
        func tick(until end: Instant) {
            while now < end {
                now += .milliseconds(100)
                for id in heard { XCTAssertEqual(m.onHeartbeat(agentId: id, now: now), .recorded) }
                _ = m.onTick(now: now)
                for id in unreachable(m) where markedAt[id] == nil { markedAt[id] = now }
            }
        }
        tick(until: 7.5)
        // Every deadline (4 s after registering: 4.0 … 6.9) has passed; ten permits were there.
        XCTAssertEqual(unreachable(m), Set(ids[20...]), "the ten longest silent")
        XCTAssertEqual(m.unreachableDeferred, 20)
        XCTAssertEqual(m.agents.values.filter(\.reachable).count, 20, "the rest wait, still reachable")
        // a05 is heard from while it waits (and from then on): it is not declared at all.
        heard = ["a05"]
        tick(until: 200)
        XCTAssertEqual(unreachable(m), Set(ids).subtracting(["a05"]))
        XCTAssertEqual(m.unreachableMarks, 29)
        XCTAssertEqual(m.unreachableDeferred, 0)
        // Longest silent first, and no faster than the rate: ten, then one every 6 s (each at the
        // first tick once its permit is there).
        let order = markedAt.sorted { $0.value < $1.value }.map(\.key)
        XCTAssertEqual(Array(order.suffix(19)), Array(ids[0..<20].reversed().filter { $0 != "a05" }))
        let later = markedAt.values.filter { $0 > 7.5 }.sorted()
        XCTAssertEqual(later.count, 19)
        for (a, b) in zip(later, later.dropFirst()) {
            XCTAssertEqual(b.timeIntervalSince(a), 6, accuracy: 0.11)
        }
    }

    func testWithoutALimitEverySilentAgentIsDeclaredAtItsDeadline() {
        var m = master(nil)
        for i in 0..<50 { register(&m, "a\(i)", at: 0) }
        _ = m.onTick(now: 4.1)
        XCTAssertEqual(unreachable(m).count, 50)
        XCTAssertEqual(m.unreachableDeferred, 0)
    }

    /// Random registrations, heartbeats and ticks under a tight rate: no agent is declared before
    /// its deadline, and over any stretch of time no more are declared than the rate permits.
    func testRandomWalkNeverDeclaresEarlyNorFasterThanTheRate() {
        let rate = RemovalRate(permits: 3, period: .seconds(20))
        var m = master(rate)
        var rng = SeededRandom(seed: 7)
        var now: Instant = 0
        var lastHeard: [String: Instant] = [:]
        var marks: [Instant] = []
        for _ in 0..<4_000 {
            now += .seconds(Double.random(in: 0.05...0.8, using: &rng))
            let id = "a\(Int.random(in: 0..<20, using: &rng))"
            switch Int.random(in: 0..<10, using: &rng) {
            case 0:
                register(&m, id, at: now)
                lastHeard[id] = now
            case 1, 2:
                if m.onHeartbeat(agentId: id, now: now) == .recorded { lastHeard[id] = now }
            default:
                let before = unreachable(m)
                _ = m.onTick(now: now)
                for newly in unreachable(m).subtracting(before) {
                    XCTAssertGreaterThan(now, lastHeard[newly]! + .seconds(4), "\(newly) declared before its deadline")
                    marks.append(now)
                }
            }
        }
        XCTAssertGreaterThan(marks.count, 30, "the walk declared agents often")
        for (i, start) in marks.enumerated() {
            let within = marks[i...].prefix { $0.timeIntervalSince(start) < 20 }.count
            XCTAssertLessThanOrEqual(within, 3 + 3, "at most the burst plus a period's refill in any 20 s")
        }
    }
}
