import Foundation
import PacerAppsCore
import PacerModel
import XCTest

final class HealthTests: XCTestCase {
    func checked(_ instances: Int, max: Int = 3) -> AppDefinition {
        var a = app("/web", instances: instances)
        var check = HealthCheck(kind: .http)
        check.maxConsecutiveFailures = max
        a.healthChecks = [check]
        return a
    }

    func health(_ c: AppsCore, _ id: String, alive: Bool, failures: Int) -> TaskStatus {
        TaskStatus(
            taskId: id, agentId: "a1", frameworkId: "f", state: .running, uuid: UUID().uuidString, timestamp: 0,
            healthy: alive,
            health: [HealthCheckResult(alive: alive, consecutiveFailures: failures, lastFailureCause: "HTTP 500", taskId: id)])
    }

    func running(_ spec: AppDefinition) throws -> (AppsCore, [String]) {
        var c = AppsCore(apps: [], tasks: [], idPrefix: "p", now: t0)
        _ = try c.putApp(spec, now: t0, force: false)
        let ids = c.onOffers([offer("o")], now: t0).launched.map(\.taskId)
        _ = c.report(ids, .running, at: t0)
        return (c, ids)
    }

    func testHealthIsRecordedCountedAndAnnounced() throws {
        var (c, ids) = try running(checked(2))
        XCTAssertEqual(c.deployments.count, 1, "running is not enough when the app has health checks")
        let ds = c.onStatusUpdates(ids.map { health(c, $0, alive: true, failures: 0) }, now: t0)
        XCTAssertTrue(
            ds.contains {
                if case .persistTasks = $0 { return true }
                return false
            }, "health is persisted")
        XCTAssertEqual(c.tasks[ids[0]]?.healthy, true)
        XCTAssertEqual(c.deployments.count, 0, "healthy: the deployment is done")
        let events = ds.events
        XCTAssertEqual(
            events.filter {
                if case .healthStatusChanged(_, true) = $0 { return true }
                return false
            }.count, 2)
    }

    func testTaskPastMaxFailuresIsKilledAndReplaced() throws {
        var (c, ids) = try running(checked(2, max: 3))
        _ = c.onStatusUpdates(ids.map { health(c, $0, alive: true, failures: 0) }, now: t0)
        let one = c.onStatusUpdates([health(c, ids[0], alive: false, failures: 1)], now: t0)
        XCTAssertEqual(one.killed, [])
        let three = c.onStatusUpdates([health(c, ids[0], alive: false, failures: 3)], now: t0)
        XCTAssertEqual(three.killed, [ids[0]])
        let events = one.events + three.events
        XCTAssertTrue(
            events.contains {
                if case .unhealthyInstanceKill(let t, _) = $0 { return t.id == ids[0] }
                return false
            })
        XCTAssertTrue(
            events.contains {
                if case .failedHealthCheck = $0 { return true }
                return false
            })
        _ = c.report([ids[0]], .killed, at: t0)
        XCTAssertEqual(c.onOffers([offer("o2")], now: t0).launched.count, 1, "replaced without backoff")
    }

    func testHealthKillsTakeABoundedShareOfTheAppAtOnce() throws {
        var (c, ids) = try running(checked(8, max: 1))
        let ds = c.onStatusUpdates(ids.map { health(c, $0, alive: false, failures: 1) }, now: t0)
        XCTAssertEqual(ds.killed.count, 2, "8 instances: at most a quarter killed for health at a time")
        _ = c.report(ds.killed, .killed, at: t0)
        let more = c.onStatusUpdates(
            ids.filter { !ds.killed.contains($0) }.map { health(c, $0, alive: false, failures: 2) }, now: t0)
        XCTAssertEqual(more.killed.count, 2, "the next ones go once those are gone")
    }

    func testUnhealthyNewVersionHoldsTheOldOneInPlace() throws {
        var spec = checked(2)
        var (c, old) = try running(spec)
        _ = c.onStatusUpdates(old.map { health(c, $0, alive: true, failures: 0) }, now: t0)
        spec.cmd = "new"
        _ = try c.putApp(spec, now: t0.addingTimeInterval(1), force: false)
        let fresh = c.onOffers([offer("o2")], now: t0.addingTimeInterval(1)).launched.map(\.taskId)
        XCTAssertEqual(fresh.count, 2)
        let ds = c.report(fresh, .running, at: t0.addingTimeInterval(2))
        XCTAssertEqual(ds.killed, [], "new tasks run but are not healthy yet: the old ones stay")
        let unhealthy = c.onStatusUpdates(fresh.map { health(c, $0, alive: false, failures: 1) }, now: t0.addingTimeInterval(3))
        XCTAssertFalse(unhealthy.killed.contains { old.contains($0) })
        let healthy = c.onStatusUpdates(fresh.map { health(c, $0, alive: true, failures: 0) }, now: t0.addingTimeInterval(4))
        XCTAssertEqual(Set(healthy.killed), Set(old), "healthy new tasks: now the old ones go")
    }
}
