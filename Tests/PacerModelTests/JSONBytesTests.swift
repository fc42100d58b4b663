import Foundation
import PacerModel
import XCTest

/// The hand-written task JSON is byte for byte what the API's encoder writes, in both shapes.
final class JSONBytesTests: XCTestCase {
    private func record(_ id: String, message: String? = nil, healthy: Bool? = nil) -> TaskRecord {
        var r = TaskRecord(
            id: id, appId: try! PathId(validating: "/shop/web"), agentId: "agent-\"1\"", host: "10.0.0.1",
            agentAttributes: ["region": "eu/west", "zone": "b"], ports: [31000, 31001], servicePorts: [10000, 10001],
            version: "2026-11-30T15:00:00.000Z", stagedAt: Date(timeIntervalSince1970: 1_700_000_000.123))
        r.state = message == nil ? .running : .failed
        r.startedAt = Date(timeIntervalSince1970: 1_700_000_001)
        r.message = message
        r.healthy = healthy
        r.ready = healthy
        r.draining = healthy.map { !$0 }
        return r
    }

    private func assertSame(_ tasks: [MarathonTask], file: StaticString = #filePath, line: UInt = #line) throws {
        for pacer in [false, true] {
            let expected = try MarathonShape.encoder(pacer: pacer).encode(tasks)
            let written = MarathonTask.jsonArray(tasks, marathonOnly: !pacer).bytes
            XCTAssertEqual(
                String(decoding: written, as: UTF8.self), String(decoding: expected, as: UTF8.self), "pacer: \(pacer)",
                file: file, line: line)
        }
    }

    func testTasksMatchTheEncoderByteForByte() throws {
        let controls = String(decoding: (0..<0x20).map { UInt8($0) }, as: UTF8.self)
        let results = [
            HealthCheckResult(alive: true, consecutiveFailures: 0, firstSuccess: "t1", lastSuccess: "t2", taskId: "a.1"),
            HealthCheckResult(
                alive: false, consecutiveFailures: 3, lastFailure: "t3", lastFailureCause: "HTTP 503 \"down\"", taskId: "a.1")
        ]
        try assertSame([])
        try assertSame([
            MarathonTask(record("shop_web.1")),
            MarathonTask(record("shop_web.2", message: "exit 3: \\ \"quoted\" / slash, é ✓ \u{2028}" + controls), role: "web"),
            MarathonTask(record("shop_web.3", healthy: true), role: "*", health: results),
            MarathonTask(record("shop_web.4", healthy: false))
        ])
    }
}
