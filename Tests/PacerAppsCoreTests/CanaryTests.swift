import Foundation
import PacerAppsCore
import PacerModel
import XCTest

/// Canaries: new-spec tasks beside all current ones, held until promoted or aborted.
final class CanaryTests: XCTestCase {
    func changed() -> AppDefinition {
        var spec = app("/web", instances: 3)
        spec.cmd = "sleep 7200"
        return spec
    }

    func testCanaryRunsBesideTheAppAndIsHeldUntilPromoted() throws {
        var (c, old) = try AppsCore.running(3)
        let now = t0.addingTimeInterval(1)
        let (canary, _) = try c.startCanary(changed(), instances: 1, now: now, force: false)
        let launched = c.onOffers([offer("o2")], now: now).launched
        XCTAssertEqual(launched.count, 1, "one canary task, the app's three untouched")
        XCTAssertEqual(launched[0].command.value, "sleep 7200")
        _ = c.report(launched.map(\.taskId), .running, at: now)
        for s in 0..<30 {
            XCTAssertEqual(c.onTick(now: now.addingTimeInterval(Double(s))).killed, [], "held: nothing killed")
        }
        XCTAssertEqual(c.onOffers([offer("o3")], now: now).launched.count, 0)
        XCTAssertNotNil(c.deployments[canary.deploymentId], "the canary deployment stays open")
        XCTAssertThrowsError(try c.putApp(app("/web", instances: 4), now: now, force: false), "locked by the canary")
        // Promote: the rolling upgrade counts the canary as new and replaces the old three.
        let (next, ds) = try c.promoteCanary(deploymentId: canary.deploymentId, now: now)
        XCTAssertNotNil(next)
        XCTAssertNil(c.deployments[canary.deploymentId])
        XCTAssertTrue(ds.contains(.deleteCanary(try PathId(validating: "/web"))))
        let more = c.onOffers([offer("o4")], now: now).launched
        XCTAssertEqual(more.count, 2, "3 instances of the new spec: the canary plus two")
        let reported = c.report(more.map(\.taskId), .running, at: now)
        let killed = ds.killed + reported.killed + c.onTick(now: now.addingTimeInterval(1)).killed
        XCTAssertEqual(Set(killed), Set(old), "the old version goes as the new one serves")
        XCTAssertEqual(ds.killed.count, 1, "at promotion only what capacity allows (4 serving, 3 needed)")
    }

    func testAbortKillsOnlyTheCanary() throws {
        var (c, old) = try AppsCore.running(2)
        let (canary, _) = try c.startCanary(changed(), instances: 2, now: t0, force: false)
        let canaryTasks = c.onOffers([offer("o2")], now: t0).launched.map(\.taskId)
        XCTAssertEqual(canaryTasks.count, 2)
        _ = c.report(canaryTasks, .running, at: t0)
        let ds = try c.abortCanary(deploymentId: canary.deploymentId, now: t0)
        XCTAssertEqual(Set(ds.killed), Set(canaryTasks))
        XCTAssertEqual(c.apps[try PathId(validating: "/web")]?.cmd, app("/web", instances: 2).cmd, "the app's spec is unchanged")
        _ = c.report(canaryTasks, .killed, at: t0)
        XCTAssertEqual(c.onOffers([offer("o3")], now: t0).launched.count, 0, "no replacement for aborted canaries")
        XCTAssertEqual(Set(c.live(try PathId(validating: "/web")).map(\.id)), Set(old))
        XCTAssertThrowsError(try c.promoteCanary(deploymentId: canary.deploymentId, now: t0))
    }

    func testCanaryContinuesAfterARestart() throws {
        var (c, _) = try AppsCore.running(2)
        let (canary, _) = try c.startCanary(changed(), instances: 1, now: t0, force: false)
        _ = c.onOffers([offer("o2")], now: t0)
        let deployments = c.deployments.values.map { $0 }
        let restarted = AppsCore(
            apps: Array(c.apps.values), tasks: Array(c.tasks.values), deployments: deployments,
            canaries: [canary], idPrefix: "q", now: t0)
        XCTAssertEqual(restarted.canaries.count, 1)
        XCTAssertNotNil(restarted.deployments[canary.deploymentId])
        XCTAssertEqual(restarted.live(try PathId(validating: "/web")).count, 2, "canary tasks are not the app's instances")
    }
}
