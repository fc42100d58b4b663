import Foundation
import PacerModel
import XCTest

@testable import PacerAppsCore

/// Issue 18: stalls are reported whatever their cause, with what the deployment waits on in words,
/// and the framework asks for offers again while it has instances it cannot place.
final class StallReportTests: XCTestCase {
    func at(_ s: Double) -> Instant { t0.addingTimeInterval(s) }

    func testRevivesAgainWhileInstancesWaitWithBackoff() throws {
        var c = AppsCore(apps: [], tasks: [], idPrefix: "p", now: t0)
        _ = try c.putApp(app("/web", instances: 2), now: t0, force: false)
        var revives: [Double] = []
        for tick in 1...240 {  // two minutes of ticks, no offer ever arriving
            let s = Double(tick) * 0.5
            if c.onTick(now: at(s)).contains(.revive) { revives.append(s) }
        }
        // 5 s after the demand was first seen, then doubling to the 30 s cap.
        XCTAssertEqual(revives, [5.5, 15.5, 35.5, 65.5, 95.5])
        // A launch is progress: the watch starts over.
        XCTAssertEqual(c.onOffers([offer("o1")], now: at(100)).launched.count, 2)
        XCTAssertFalse(
            (1...20).contains { c.onTick(now: at(100 + Double($0) * 0.5)).contains(.revive) }, "nothing left to launch")
    }

    func testWhyItWaitsNamesTheConstraintAndTheStallIsReportedOnce() throws {
        var s = AppsSettings()
        s.stall = .seconds(60)
        var c = AppsCore(settings: s, apps: [], tasks: [], idPrefix: "p", now: t0)
        let spec = app("/web", instances: 2, constraints: [Constraint(field: "rack", op: .like, value: "r9")])
        _ = try c.putApp(spec, now: t0, force: false)
        XCTAssertTrue(
            c.onOffers(
                [offer("o1", attributes: ["rack": "r1"]), offer("o2", agent: "a2", host: "h2", attributes: ["rack": "r2"])],
                now: at(1)
            ).launched.isEmpty)
        let d = try XCTUnwrap(c.deployment(for: spec.id))
        let why = c.waitingFor(d, now: at(2))
        XCTAssertTrue(why.hasPrefix("2 instances to launch; 2 offers did not fit: 2 × constraint rack:LIKE:r9 not met"), why)
        var stalled: [String] = []
        for tick in 1...200 {
            for case .deploymentStalled(let info, let reason, _) in c.onTick(now: at(Double(tick) * 0.5)).events {
                XCTAssertEqual(info.id, d.info.id)
                stalled.append(reason)
            }
        }
        XCTAssertEqual(stalled.count, 1, "reported once, after the stall time")
        XCTAssertTrue(stalled.first?.contains("constraint rack:LIKE:r9") ?? false, "\(stalled)")
        XCTAssertEqual(c.stalledDeployments.map(\.info.id), [d.info.id])
    }

    func testWhyItWaitsFollowsTheDeployment() throws {
        var spec = app("/web", instances: 1)
        var check = HealthCheck(kind: .http)
        check.maxConsecutiveFailures = 0
        spec.healthChecks = [check]
        var c = AppsCore(apps: [], tasks: [], idPrefix: "p", now: t0)
        _ = try c.putApp(spec, now: t0, force: false)
        let d = try XCTUnwrap(c.deployment(for: spec.id))
        XCTAssertEqual(c.waitingFor(d, now: t0), "1 instance to launch; no offer received yet")
        let ids = c.onOffers([offer("o1")], now: at(1)).launched.map(\.taskId)
        XCTAssertEqual(c.waitingFor(d, now: at(1)), "1 new task launched, not yet running (TASK_STAGING)")
        _ = c.report(ids, .running, at: at(2))
        XCTAssertEqual(c.waitingFor(d, now: at(2)), "1 new task not yet healthy (no check result yet)")
        var failing = TaskStatus(
            taskId: ids[0], agentId: "a1", frameworkId: "f", state: .running, uuid: "h", timestamp: 0, healthy: false)
        failing.health = [
            HealthCheckResult(alive: false, consecutiveFailures: 2, lastFailureCause: "HTTP 503 from /health", taskId: ids[0])
        ]
        _ = c.onStatusUpdates([failing], now: at(3))
        XCTAssertEqual(c.waitingFor(d, now: at(3)), "1 new task not yet healthy: HTTP 503 from /health")

        // A failed task puts the app into backoff; the text says so, with the failure.
        _ = c.report(ids, .failed, at: at(4))
        XCTAssertTrue(
            c.waitingFor(d, now: at(4)).hasPrefix("launch backoff after failures: next launch in 1 s"),
            c.waitingFor(d, now: at(4)))
    }

    func testDrainingIsNamedWithTheLoadBalancersItWaitsFor() throws {
        var (c, ids) = try AppsCore.running(2)
        _ = c.onLoadBalancersChanged(["lb-1"], now: t0)
        _ = try c.putApp(app("/web", instances: 1), now: at(1), force: false)
        let d = try XCTUnwrap(c.deployment(for: try PathId(validating: "/web")))
        XCTAssertEqual(
            c.waitingFor(d, now: at(1)), "1 old task being stopped; waiting for load balancer lb-1 to take 1 out of rotation")
        XCTAssertEqual(ids.count, 2)
    }
}

extension StallReportTests {
    /// An overloaded master may confirm a launch late: the framework asks about it first, and
    /// replaces it only after `launchConfirmSeconds` — never a second copy for a slow confirmation.
    func testAnUnconfirmedLaunchIsAskedAboutBeforeItIsReplaced() throws {
        var c = AppsCore(apps: [], tasks: [], idPrefix: "p", now: t0)
        _ = try c.putApp(app("/web", instances: 1), now: t0, force: false)
        let id = try XCTUnwrap(c.onOffers([offer("o1")], now: t0).launched.first?.taskId)
        var asked: [[TaskRef]] = []
        var killed: [String] = []
        for s in stride(from: 0.5, through: 320, by: 0.5) {
            for d in c.onTick(now: at(s)) {
                if case .reconcile(let refs) = d, !refs.isEmpty { asked.append(refs) }
                if case .kill(let t, _) = d { killed.append(t) }
            }
            if s == 100 { XCTAssertTrue(killed.isEmpty, "not replaced while merely unconfirmed") }
        }
        XCTAssertEqual(asked, [[TaskRef(taskId: id, agentId: "a1")]], "asked once, after the launch timeout")
        XCTAssertEqual(killed.first, id, "given up after the confirm timeout")
        // The master's answer that it runs settles it.
        var d = AppsCore(apps: [], tasks: [], idPrefix: "q", now: t0)
        _ = try d.putApp(app("/web", instances: 1), now: t0, force: false)
        let other = try XCTUnwrap(d.onOffers([offer("o1")], now: t0).launched.first?.taskId)
        _ = d.onTick(now: at(61))
        _ = d.report([other], .running, at: at(62))
        XCTAssertFalse((63...400).contains { d.onTick(now: at(Double($0))).killed.contains(other) })
    }
}
