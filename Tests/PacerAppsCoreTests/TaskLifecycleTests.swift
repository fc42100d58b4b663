import Foundation
import PacerModel
import XCTest

@testable import PacerAppsCore

/// Every transition of `TaskLifecycle`, first on the value, then through the core.
final class TaskLifecycleTests: XCTestCase {
    func testTheValueMovesOnlyForward() {
        var drain = TaskLifecycle.draining(waitingFor: ["a", "b"], since: t0, unhealthy: true)
        XCTAssertTrue(drain.isLeaving)
        XCTAssertTrue(drain.isDraining)
        XCTAssertTrue(drain.isUnhealthyKill)
        XCTAssertNil(drain.due(now: t0.addingTimeInterval(9), drainTimeout: .seconds(10), killRetry: .seconds(5)))
        XCTAssertEqual(
            drain.due(now: t0.addingTimeInterval(10), drainTimeout: .seconds(10), killRetry: .seconds(5)), .finishDrain)
        XCTAssertFalse(drain.keepWaiting(for: ["b", "c"]), "b still holds it; c never was waited for")
        XCTAssertEqual(drain.waitingFor, ["b"])
        XCTAssertTrue(drain.keepWaiting(for: []))
        drain.killNow(t0.addingTimeInterval(3))
        XCTAssertEqual(drain, .killing(askedAt: t0.addingTimeInterval(3), unhealthy: true), "the reason stays")
        XCTAssertNil(drain.due(now: t0.addingTimeInterval(8), drainTimeout: .seconds(10), killRetry: .seconds(5)))
        XCTAssertEqual(
            drain.due(now: t0.addingTimeInterval(8.5), drainTimeout: .seconds(10), killRetry: .seconds(5)), .repeatKill)
        XCTAssertFalse(drain.keepWaiting(for: ["a"]), "a killing task waits for no load balancer")
        XCTAssertEqual(drain.waitingFor, [])

        XCTAssertFalse(TaskLifecycle.kept.isLeaving)
        XCTAssertFalse(TaskLifecycle.kept.isUnhealthyKill)
        XCTAssertNil(TaskLifecycle.kept.due(now: Instant(secondsSince1970: .infinity), drainTimeout: .zero, killRetry: .zero))
    }

    func testAKillDrainsOnlyARunningTaskThatLoadBalancersFollow() throws {
        var (c, ids) = try AppsCore.running(3)
        _ = c.onLoadBalancersChanged(["lb"], now: t0)
        XCTAssertEqual(c.killTasks([ids[0]], scale: false, now: t0).2.killed, [])
        XCTAssertEqual(c.leaving[ids[0]], .draining(waitingFor: ["lb"], since: t0, unhealthy: false))
        XCTAssertFalse(c.live(try PathId(validating: "/web")).map(\.id).contains(ids[0]), "a leaving task is no instance")
        // Asked again while draining: the drain decides, nothing is sent.
        XCTAssertEqual(c.killTasks([ids[0]], scale: false, now: t0.addingTimeInterval(1)).2.killed, [])
        XCTAssertEqual(c.onDrained([ids[0]], by: "lb", now: t0.addingTimeInterval(2)).killed, [ids[0]])
        XCTAssertEqual(c.leaving[ids[0]], .killing(askedAt: t0.addingTimeInterval(2), unhealthy: false))
        // Asked again while killing: the KILL goes again (a user's retry), and the retry clock restarts.
        XCTAssertEqual(c.killTasks([ids[0]], scale: false, now: t0.addingTimeInterval(3)).2.killed, [ids[0]])
        XCTAssertEqual(c.leaving[ids[0]], .killing(askedAt: t0.addingTimeInterval(3), unhealthy: false))
        // The terminal status forgets it, with its record.
        _ = c.report([ids[0]], .killed, at: t0.addingTimeInterval(4))
        XCTAssertNil(c.leaving[ids[0]])
        XCTAssertNil(c.tasks[ids[0]])
    }

    func testAnUnansweredKillIsRepeatedOnTheRetryInterval() throws {
        var (c, ids) = try AppsCore.running(2)
        XCTAssertEqual(c.killTasks([ids[1]], scale: false, now: t0).2.killed, [ids[1]])
        let retry = AppsSettings().killRetry.seconds
        XCTAssertEqual(c.onTick(now: t0.addingTimeInterval(retry)).killed, [])
        XCTAssertEqual(c.onTick(now: t0.addingTimeInterval(retry + 0.5)).killed, [ids[1]])
        XCTAssertEqual(c.onTick(now: t0.addingTimeInterval(retry + 1)).killed, [], "and not again right after")
    }

    /// Ticks look only at leaving tasks whose deadline passed (`leavingWakeups`, filed by the
    /// second): every unanswered KILL still goes again past its retry interval, within a second
    /// and a tick of it, never before and never twice.
    func testEveryUnansweredKillIsRepeatedInTimeWhenTicksLookOnlyAtDueOnes() throws {
        var (c, ids) = try AppsCore.running(40)
        let retry = AppsSettings().killRetry.seconds
        var asked: [String: Double] = [:]
        var repeats = 0
        for tick in 0...240 {
            let at = Double(tick) * 0.5
            for (i, id) in ids.enumerated() where asked[id] == nil && Double(i) * 0.3 <= at {
                XCTAssertEqual(c.killTasks([id], scale: false, now: t0.addingTimeInterval(at)).2.killed, [id])
                asked[id] = at
            }
            for id in c.onTick(now: t0.addingTimeInterval(at)).killed {
                let waited = at - asked[id]!
                XCTAssertGreaterThan(waited, retry, "\(id) repeated early")
                XCTAssertLessThanOrEqual(waited, retry + 1.5, "\(id) repeated late")
                asked[id] = at
                repeats += 1
            }
        }
        // Each task, killed in the first 12 s and answered never, is asked again every retry.
        for (i, id) in ids.enumerated() {
            XCTAssertGreaterThan(asked[id]!, 120 - retry - 1.5, "\(id), killed at \(Double(i) * 0.3) s, was left")
        }
        XCTAssertGreaterThanOrEqual(repeats, ids.count * Int((120 - 12) / (retry + 1.5)))
    }
}
