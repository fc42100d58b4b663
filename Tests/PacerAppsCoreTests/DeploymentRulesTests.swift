import Foundation
import PacerAppsCore
import PacerModel
import XCTest

final class DeploymentRulesTests: XCTestCase {
    func ready(_ id: String) -> TaskStatus {
        var s = TaskStatus(taskId: id, agentId: "a1", frameworkId: "f", state: .running, uuid: UUID().uuidString, timestamp: 0)
        s.ready = true
        return s
    }

    func testReadinessGatesTheUpgrade() throws {
        var spec = app("/r", instances: 1)
        spec.portDefinitions = [PortDefinition(port: 0, name: "http")]
        var check = try JSONDecoder().decode(ReadinessCheck.self, from: Data(#"{"portName":"http"}"#.utf8))
        check.path = "/ready"
        spec.readinessChecks = [check]
        var c = AppsCore(apps: [], tasks: [], idPrefix: "p", now: t0)
        _ = try c.putApp(spec, now: t0, force: false)
        let old = c.onOffers([offer("o")], now: t0).launched
        XCTAssertEqual(old[0].readinessChecks?.first?.port, old[0].resources.portList.first, "resolved to the task's own port")
        _ = c.report(old.map(\.taskId), .running, at: t0)
        XCTAssertEqual(c.deployments.count, 1, "running but not ready")
        _ = c.onStatusUpdates([ready(old[0].taskId)], now: t0)
        XCTAssertEqual(c.deployments.count, 0)
        spec.cmd = "v2"
        _ = try c.putApp(spec, now: t0.addingTimeInterval(1), force: false)
        let fresh = c.onOffers([offer("o2")], now: t0.addingTimeInterval(1)).launched.map(\.taskId)
        XCTAssertEqual(c.report(fresh, .running, at: t0).killed, [], "not ready yet: the old task stays")
        XCTAssertEqual(c.onStatusUpdates(fresh.map(ready), now: t0).killed, [old[0].taskId])
    }

    func testDependentAppWaitsForItsDependency() throws {
        var c = AppsCore(apps: [], tasks: [], idPrefix: "p", now: t0)
        _ = try c.putApp(app("/db"), now: t0, force: false)
        var web = app("/web")
        web.dependencies = [try PathId(validating: "/db")]
        _ = try c.putApp(web, now: t0, force: false)
        let first = c.onOffers([offer("o1")], now: t0).launched
        XCTAssertEqual(first.map(\.name), ["/db"], "only the dependency launches")
        _ = c.report(first.map(\.taskId), .running, at: t0)
        XCTAssertEqual(c.onOffers([offer("o2")], now: t0).launched.map(\.name), ["/web"])
    }

    func testStalledDeploymentFailsAtItsDeadlineAndReverts() throws {
        var spec = app("/p", instances: 1)
        spec.progressDeadlineSeconds = 30
        spec.autoRevert = true
        var check = HealthCheck(kind: .http)
        check.maxConsecutiveFailures = 0
        spec.healthChecks = [check]
        var c = AppsCore(apps: [], tasks: [], idPrefix: "p", now: t0)
        _ = try c.putApp(spec, now: t0, force: false)
        let good = c.onOffers([offer("o")], now: t0).launched.map(\.taskId)
        _ = c.report(good, .running, at: t0)
        var healthy = TaskStatus(
            taskId: good[0], agentId: "a1", frameworkId: "f", state: .running, uuid: "h", timestamp: 0, healthy: true)
        healthy.health = [HealthCheckResult(alive: true, consecutiveFailures: 0, taskId: good[0])]
        _ = c.onStatusUpdates([healthy], now: t0)
        XCTAssertTrue(c.deployments.isEmpty)

        spec.cmd = "broken"
        _ = try c.putApp(spec, now: t0.addingTimeInterval(1), force: false)
        let bad = c.onOffers([offer("o2")], now: t0.addingTimeInterval(1)).launched.map(\.taskId)
        _ = c.report(bad, .running, at: t0.addingTimeInterval(2))  // runs, never healthy
        _ = c.onTick(now: t0.addingTimeInterval(3))
        _ = c.onTick(now: t0.addingTimeInterval(20))
        XCTAssertEqual(c.deployments.count, 1, "within the deadline")
        let ds = c.onTick(now: t0.addingTimeInterval(40))
        let events = ds.events
        XCTAssertTrue(
            events.contains {
                if case .deploymentFailed(_, let reason) = $0 { return reason.contains("no progress") }
                return false
            })
        XCTAssertEqual(c.apps[spec.id]?.cmd, "sleep 100", "reverted to the last healthy spec")
        XCTAssertTrue(ds.killed.contains(bad[0]), "the broken version's task goes")
        XCTAssertFalse(ds.killed.contains(good[0]), "the healthy task of the good version is not restarted")
        XCTAssertTrue(
            ds.contains {
                if case .persistApp = $0 { return true }
                return false
            })
    }
}

extension DeploymentRulesTests {
    func testStoredDeploymentsContinueUnderTheirIdsAfterARestart() throws {
        var c = AppsCore(apps: [], tasks: [], idPrefix: "p", now: t0)
        _ = try c.putApp(app("/waiting", instances: 2), now: t0, force: false)
        _ = try c.putApp(app("/done", instances: 1), now: t0, force: false)
        let done = c.onOffers([offer("o", cpus: 0.1)], now: t0).launched.map(\.taskId)
        _ = c.report(done, .running, at: t0)
        let waiting = try XCTUnwrap(c.deployment(for: try PathId(validating: "/waiting")))
        let restarted = AppsCore(
            apps: Array(c.apps.values), tasks: Array(c.tasks.values), deployments: Array(c.deployments.values),
            idPrefix: "q", now: t0)
        XCTAssertEqual(restarted.deployment(for: try PathId(validating: "/waiting"))?.info.id, waiting.info.id)
        XCTAssertEqual(restarted.deployments.count, 1, "finished deployments are not resurrected")
    }
}
