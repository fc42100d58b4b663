import Foundation
import PacerAppsCore
import PacerModel
import XCTest

/// Kills of running tasks wait until every load balancer following the framework has taken them
/// out of rotation (or the drain timeout passed); without load balancers they go at once.
final class DrainingTests: XCTestCase {
    func testScaleDownDrainsUntilEveryLoadBalancerAcknowledges() throws {
        var (c, ids) = try AppsCore.running(3)
        XCTAssertEqual(c.onLoadBalancersChanged(["lb-a", "lb-b"], now: t0), [])
        var spec = app("/web", instances: 1)
        spec.version = "v2"
        let (_, _, ds) = try c.putApp(spec, now: t0, force: true)
        XCTAssertEqual(ds.killed, [], "no kill while load balancers still route to the tasks")
        let draining = c.tasks.values.filter { $0.draining == true }.map(\.id).sorted()
        XCTAssertEqual(draining.count, 2)
        XCTAssertTrue(
            ds.events.contains {
                if case .taskDraining = $0 { return true }
                return false
            })
        XCTAssertEqual(c.onDrained(draining, by: "lb-a", now: t0).killed, [], "lb-b has not let go yet")
        XCTAssertEqual(Set(c.onDrained(draining, by: "lb-b", now: t0).killed), Set(draining))
        XCTAssertEqual(c.onDrained(draining, by: "lb-b", now: t0).killed, [], "acknowledged twice: killed once")
        XCTAssertEqual(c.onTick(now: t0.addingTimeInterval(1)).killed, [], "no repeated kill right away")
        _ = ids
    }

    func testTimeoutAndDepartedLoadBalancersDoNotHoldAKillForever() throws {
        var (c, ids) = try AppsCore.running(2)
        _ = c.onLoadBalancersChanged(["lb-a", "lb-b"], now: t0)
        let (_, _, first) = c.killTasks([ids[0]], scale: false, now: t0)
        XCTAssertEqual(first.killed, [])
        XCTAssertEqual(c.onTick(now: t0.addingTimeInterval(5)).killed, [])
        XCTAssertEqual(c.onTick(now: t0.addingTimeInterval(10)).killed, [ids[0]], "drain timeout (10 s)")
        let (_, _, second) = c.killTasks([ids[1]], scale: false, now: t0.addingTimeInterval(11))
        XCTAssertEqual(second.killed, [])
        XCTAssertEqual(c.onDrained([ids[1]], by: "lb-a", now: t0.addingTimeInterval(11)).killed, [])
        XCTAssertEqual(
            c.onLoadBalancersChanged(["lb-a"], now: t0.addingTimeInterval(12)).killed, [ids[1]], "lb-b left: not waited for")
    }

    func testWithoutLoadBalancersAndForStagingTasksKillsAreImmediate() throws {
        var (c, ids) = try AppsCore.running(2)
        XCTAssertEqual(c.killTasks([ids[0]], scale: false, now: t0).2.killed, [ids[0]])
        var d = AppsCore(apps: [], tasks: [], idPrefix: "p", now: t0)
        _ = try d.putApp(app("/web", instances: 1), now: t0, force: false)
        _ = d.onLoadBalancersChanged(["lb-a"], now: t0)
        let staged = d.onOffers([offer("o1")], now: t0).launched.map(\.taskId)
        XCTAssertEqual(d.killTasks(staged, scale: false, now: t0).2.killed, staged, "a task that never ran is not in any LB")
    }
}
