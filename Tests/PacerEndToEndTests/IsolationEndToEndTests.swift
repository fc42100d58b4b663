import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// Isolation seen from the outside: apps deployed through the framework, limits measured through
/// the agent's own statistics, failures read back from Marathon's API.
final class IsolationEndToEndTests: ClusterTestCase {
    struct Stat: Decodable {
        var executor_id: String
        var statistics: [String: Double]
    }

    func statistics() async throws -> [String: [String: Double]] {
        let r = try await HTTPTransport(timeout: .seconds(3)).expectOK(.GET, cluster.agentURL + "/monitor/statistics")
        return Dictionary(
            uniqueKeysWithValues: try JSONDecoder().decode([Stat].self, from: r.body).map { ($0.executor_id, $0.statistics) })
    }

    func testAnAppOverItsMemoryIsOOMKilledAndMarathonSaysSo() async throws {
        let spec =
            #"{"id":"/hog","cmd":"exec python3 -c 'import time; a = bytearray(200 << 20); time.sleep(60)'","#
            + #""instances":1,"cpus":0.1,"mem":64,"resourceLimits":{"cpus":"unlimited"}}"#
        let posted = try await post(spec)
        XCTAssertEqual(posted.status, 201, posted.text)
        let failure = try await Eventually.value("the OOM kill is the app's last task failure", within: 20) {
            () -> TaskFailure? in
            try await self.client.app(self.id("/hog")).lastTaskFailure
        }
        XCTAssertEqual(failure.state, "TASK_FAILED")
        XCTAssertTrue(failure.message.contains("Memory limit exceeded"), failure.message)
        XCTAssertTrue(failure.message.contains("64 MiB"), failure.message)
    }

    func testHalfACPUIsHalfACoreAndTasksRunAsTheUnprivilegedUser() async throws {
        let spec = #"{"id":"/spin","cmd":"while :; do :; done","instances":1,"cpus":0.5,"mem":32}"#
        let posted = try await post(spec)
        XCTAssertEqual(posted.status, 201, posted.text)
        let task = try await waitRunning("/spin", 1)[0]
        let pids = try await cluster.taskPids()
        let pid = try XCTUnwrap(pids[task.id])
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let uid = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }?.split(whereSeparator: \.isWhitespace).dropFirst()
            .first
        XCTAssertEqual(uid.map(String.init), "65534", "tasks run as nobody by default")

        try await Task.sleep(for: .milliseconds(500))
        let firstStats = try await statistics()
        let first = try XCTUnwrap(firstStats[task.id])
        let start = Date()
        try await Task.sleep(for: .seconds(5))
        let secondStats = try await statistics()
        let second = try XCTUnwrap(secondStats[task.id])
        let rate = (second["cpus_total_time_secs"]! - first["cpus_total_time_secs"]!) / Date().timeIntervalSince(start)
        print("cpus 0.5 busy loop through the agent's statistics: \(rate) cores")
        XCTAssertLessThanOrEqual(rate, 0.55)
        XCTAssertGreaterThan(rate, 0.3)
        XCTAssertEqual(second["cpus_limit"], 0.5)
        XCTAssertEqual(second["mem_limit_bytes"], 32 * 1_048_576)
        XCTAssertGreaterThan(second["cpus_nr_throttled"] ?? 0, first["cpus_nr_throttled"] ?? 0)

        let metrics = try await HTTPTransport(timeout: .seconds(3)).expectOK(.GET, cluster.agentURL + "/metrics")
        let text = String(decoding: metrics.body, as: UTF8.self)
        XCTAssertTrue(text.contains("pacer_task_cpu_throttled_seconds_total{task=\"\(task.id)\",app=\"/spin\"}"), text)
    }
}
