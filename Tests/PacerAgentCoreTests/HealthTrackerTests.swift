import PacerAgentCore
import PacerModel
import XCTest

final class HealthTrackerTests: XCTestCase {
    func tracker(grace: Double = 10, max: Int = 3) -> HealthTracker {
        var check = HealthCheck(kind: .http)
        check.gracePeriodSeconds = grace
        check.maxConsecutiveFailures = max
        return HealthTracker(check: TaskHealthCheck(check, taskPorts: [31000]), taskId: "t", startedAt: 100)
    }

    func testFailuresInTheGracePeriodBeforeFirstSuccessDoNotCount() {
        var h = tracker()
        XCTAssertFalse(h.record(success: false, cause: "refused", now: 105))
        XCTAssertNil(h.alive)
        XCTAssertEqual(h.consecutiveFailures, 0)
        XCTAssertTrue(h.record(success: true, now: 106), "first verdict: alive")
        XCTAssertTrue(h.record(success: false, cause: "500", now: 107), "after a success, failures count even in grace")
        XCTAssertEqual(h.consecutiveFailures, 1)
    }

    func testReportsOnlyChangesAndTheKillThreshold() {
        var h = tracker(grace: 0, max: 3)
        XCTAssertTrue(h.record(success: true, now: 101))
        XCTAssertFalse(h.record(success: true, now: 102), "no change, no report")
        XCTAssertTrue(h.record(success: false, cause: "x", now: 103))
        XCTAssertFalse(h.record(success: false, cause: "x", now: 104))
        XCTAssertTrue(h.record(success: false, cause: "x", now: 105), "threshold reached")
        XCTAssertTrue(h.exceeded)
        XCTAssertEqual(h.result.consecutiveFailures, 3)
        XCTAssertEqual(h.result.lastFailureCause, "x")
        XCTAssertTrue(h.record(success: true, now: 106))
        XCTAssertEqual(h.consecutiveFailures, 0)
    }

    func testZeroMaxFailuresNeverKills() {
        var h = tracker(grace: 0, max: 0)
        for i in 0..<100 { _ = h.record(success: false, now: Instant(secondsSince1970: 101 + Double(i))) }
        XCTAssertFalse(h.exceeded)
    }

    func testChecksOnlyTargetTheTasksOwnPorts() {
        var explicit = HealthCheck(kind: .tcp)
        explicit.port = 22
        XCTAssertNil(TaskHealthCheck(explicit, taskPorts: [31000]).port, "a port the task was not given is never probed")
        explicit.port = 31001
        XCTAssertEqual(TaskHealthCheck(explicit, taskPorts: [31000, 31001]).port, 31001)
        var indexed = HealthCheck(kind: .http)
        indexed.portIndex = 1
        XCTAssertEqual(TaskHealthCheck(indexed, taskPorts: [31000, 31001]).port, 31001)
        indexed.portIndex = 5
        XCTAssertNil(TaskHealthCheck(indexed, taskPorts: [31000]).port)
    }
}
