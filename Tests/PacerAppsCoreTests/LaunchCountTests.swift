import Foundation
import PacerModel
import XCTest

@testable import PacerAppsCore

/// Placement counts what each app still wants from the task table's counters when it can (issue
/// 12: copying every record of every app for each batch of offers). Whatever the app goes through,
/// that count must be the instance plan's.
final class LaunchCountTests: XCTestCase {
    func at(_ s: Double) -> Instant { t0.addingTimeInterval(s) }

    private func assertAgrees(_ c: AppsCore, _ now: Instant, _ step: String, line: UInt = #line) {
        XCTAssertEqual(c.leavingByApp, c.recountedLeaving, "\(step): leaving tasks by app", line: line)
        let wants = Dictionary(c.launchWants(now: now).map { ($0.spec.id, $0.count) }, uniquingKeysWith: +)
        for app in c.apps.values where c.canaries[app.id] == nil {
            XCTAssertEqual(wants[app.id] ?? 0, c.plan(app, now: now).launch, "\(step): \(app.id)", line: line)
            // enforcePlans skips an app on the same grounds when it runs no more than its instances.
            if let live = c.liveCount(app, c.unsettledApps(among: [app])) {
                XCTAssertEqual(live, c.live(app.id, now: now).count, "\(step): \(app.id) live", line: line)
                if live <= app.instances {
                    XCTAssertEqual(c.plan(app, now: now).kill, [], "\(step): \(app.id) would be skipped", line: line)
                }
            }
        }
        // A deployment's progress is counted the same way when its app is settled.
        for d in c.deployments.values {
            let settled = c.apps[d.appId].map { !c.unsettledApps(among: [$0]).contains($0.id) } ?? false
            XCTAssertEqual(
                c.remaining(d, now: now, settled: settled), c.remaining(d, now: now), "\(step): \(d.appId)", line: line)
        }
    }

    func testTheCountingShortcutAgreesWithThePlanThroughScalingKillsAndRollingUpgrades() throws {
        var (c, ids) = try AppsCore.running(4)
        _ = try c.putApp(app("/other", instances: 3), now: t0, force: false)
        assertAgrees(c, at(1), "one app running, one new")
        var spec = try XCTUnwrap(c.apps[try PathId(validating: "/web")])
        spec.instances = 6
        _ = try c.putApp(spec, now: at(2), force: false)
        assertAgrees(c, at(2), "scaled up")
        let launched = c.onOffers([offer("o2")], now: at(3)).launched.map(\.taskId)
        assertAgrees(c, at(3), "placed, staging")
        _ = c.report(launched, .running, at: at(4))
        assertAgrees(c, at(4), "running")
        _ = c.killTasks([ids[0]], scale: false, now: at(5))
        assertAgrees(c, at(5), "one task leaving, not yet gone")
        _ = c.report([ids[0]], .killed, at: at(6))
        assertAgrees(c, at(6), "gone")
        // Under churn every app has tasks leaving: counted from the leaving side and from the apps' side.
        let others = c.tasks(of: try PathId(validating: "/other")).map(\.id)
        _ = c.killTasks([ids[2], ids[3], others[0]], scale: false, now: at(6.5))
        assertAgrees(c, at(6.5), "tasks of both apps leaving")
        XCTAssertEqual(c.unsettledApps(among: Array(c.apps.values)).leaving.values.sorted(), [1, 2])
        _ = c.report([ids[2]], .killing, at: at(6.6))
        _ = c.report([ids[3]], .killed, at: at(6.7))
        assertAgrees(c, at(6.7), "one of them gone, one killing")
        _ = c.report([ids[1]], .unreachable, at: at(7))
        assertAgrees(c, at(7), "one unreachable")
        assertAgrees(c, at(400), "unreachable past its tolerance")
        spec = try XCTUnwrap(c.apps[try PathId(validating: "/web")])
        spec.cmd = "sleep 200"
        _ = try c.putApp(spec, now: at(401), force: false)
        assertAgrees(c, at(401), "a rolling upgrade begins")
        let upgraded = c.onOffers([offer("o3")], now: at(402)).launched.map(\.taskId)
        assertAgrees(c, at(402), "new version staging beside the old")
        _ = c.report(upgraded, .running, at: at(403))
        assertAgrees(c, at(403), "new version running")
        spec.instances = 2
        _ = try c.putApp(spec, now: at(404), force: true)
        assertAgrees(c, at(404), "scaled down below what runs")
    }
}

/// `onTick` looks at staging tasks only when one can be due (issue 12: gathering 50,000 of them
/// every tick); each is still asked about at the first tick past its launch timeout, and given up
/// at the first tick past its confirmation deadline, wherever it was staged between scans.
final class StagingScanTests: XCTestCase {
    func testLaunchTimeoutsFireAtTheFirstTickPastThemWhereverTasksWereStaged() throws {
        var c = AppsCore(apps: [], tasks: [], idPrefix: "p", now: t0)
        _ = try c.putApp(app("/web", instances: 1), now: t0, force: false)
        let first = try XCTUnwrap(c.onOffers([offer("o1")], now: t0).launched.first?.taskId)
        var asked: [String: Double] = [:]
        var killed: [String: Double] = [:]
        var second: String?
        for step in 1...700 {
            let s = Double(step) * 0.5
            if s == 30.25 + 0.25 {
                // A second app staged between two scans.
                _ = try c.putApp(app("/api", instances: 1), now: t0.addingTimeInterval(s), force: false)
                second = try XCTUnwrap(
                    c.onOffers([offer("o2", agent: "a2")], now: t0.addingTimeInterval(s)).launched.first?.taskId)
            }
            for d in c.onTick(now: t0.addingTimeInterval(s)) {
                if case .reconcile(let refs) = d { for r in refs where asked[r.taskId] == nil { asked[r.taskId] = s } }
                if case .kill(let id, _) = d, killed[id] == nil { killed[id] = s }
            }
        }
        let other = try XCTUnwrap(second)
        XCTAssertEqual(asked[first], 60.5, "launch timeout 60 s, checked with >")
        XCTAssertEqual(asked[other], 30.5 + 60.5)
        XCTAssertEqual(killed[first], 300.5, "confirmation deadline 300 s")
        XCTAssertEqual(killed[other], 30.5 + 300.5)
    }
}
