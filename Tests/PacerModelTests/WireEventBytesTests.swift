import Foundation
import PacerModel
import XCTest

/// The master's stream writes UPDATE events by hand (`SchedulerEvent.streamLine`): they must read
/// back as the same event and be the same JSON `WireJSON.masterEncoder` writes (the same keys and
/// values; that encoder's key order follows hashing, so bytes are not compared) — with every
/// optional field there or not, health results, escapes, fractional and whole timestamps.
final class WireEventBytesTests: XCTestCase {
    private func assertSame(_ event: SchedulerEvent, file: StaticString = #filePath, line: UInt = #line) throws {
        let written = try event.streamLine()
        XCTAssertEqual(written.last, 0x0A, "one line", file: file, line: line)
        let expected = Array(try WireJSON.masterEncoder().encode(event))
        let parse = { (b: [UInt8]) in try JSONSerialization.jsonObject(with: Data(b)) as? NSDictionary }
        XCTAssertEqual(
            try parse(written), try parse(expected), String(decoding: expected, as: UTF8.self), file: file, line: line)
        let read = try WireJSON.masterDecoder().decode(SchedulerEvent.self, from: Data(written.dropLast()))
        XCTAssertEqual(read, event, file: file, line: line)
    }

    func testUpdatesMatchTheEncoderAndReadBackTheSame() throws {
        let controls = String(decoding: (0..<0x20).map { UInt8($0) }, as: UTF8.self)
        var full = TaskStatus(
            taskId: "web.1", agentId: "agent-\"1\"/a", frameworkId: "f-1", state: .failed, message: "exit 3\n\(controls)é",
            reason: "REASON_COMMAND_EXECUTOR_FAILED", uuid: "u-1", timestamp: 1_764_531_234.123456, healthy: false,
            health: [
                HealthCheckResult(alive: true, consecutiveFailures: 0, firstSuccess: "t1", lastSuccess: "t2", taskId: "web.1"),
                HealthCheckResult(
                    alive: false, consecutiveFailures: 3, lastFailure: "t3", lastFailureCause: "HTTP 503 \"down\"\\",
                    taskId: "web.1")
            ])
        full.ready = true
        try assertSame(.update(full))
        try assertSame(
            .update(TaskStatus(taskId: "t", agentId: nil, frameworkId: nil, state: .staging, timestamp: 1_700_000_000)))
        try assertSame(
            .update(TaskStatus(taskId: "t", agentId: "a", frameworkId: "f", state: .running, uuid: "u", timestamp: 0.5)))
        try assertSame(.update(TaskStatus(taskId: "t", agentId: "a", frameworkId: "f", state: .killed, timestamp: 1e-7)))
    }

    func testOtherEventsGoThroughTheEncoder() throws {
        try assertSame(.subscribed("f-1", heartbeat: 5))
        try assertSame(.subscribed("f-1", heartbeat: 5, capabilities: [SchedulerEvent.Capability.killMany]))
        try assertSame(.rescind("o-1"))
    }
}
