import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// Changes under live traffic through the LB: clients send requests continuously while the app is
/// scaled, restarted and its tasks killed. Tasks leave the LB (draining, acknowledged by the LB)
/// before they are killed, so no request fails.
final class ZeroDowntimeTests: HTTPTestCase {
    static var check: [String: Any] {
        [
            "protocol": "HTTP", "path": "/health", "portIndex": 0, "intervalSeconds": 1,
            "timeoutSeconds": 1, "gracePeriodSeconds": 10, "delaySeconds": 0, "maxConsecutiveFailures": 3
        ]
    }

    override func setUp() async throws {
        try await super.setUp()
        // The recorder again, now with a health check (so new tasks get traffic only once they answer).
        var r = try await client.raw(
            "PUT", "/v2/apps/rec?force=true",
            body: try JSONSerialization.data(withJSONObject: [
                "healthChecks": [Self.check]
            ]))
        XCTAssertEqual(r.status, 200, r.text)
        try await Eventually.that("healthy again", within: 20) {
            let tasks = try await self.client.tasks(app: self.id("/rec"))
            let inLB = try await self.backends(self.port).count
            return tasks.count == 1 && tasks[0].healthCheckResults.first?.alive == true && inLB == 1
        }
        r = try await client.raw("GET", "/v2/apps/rec")
        XCTAssertTrue(r.text.contains("/health"))
    }

    func backendsCount() async throws -> Int { try await backends(port).count }

    func testScalingOneToFiveAndBackTenTimesWithKillsFailsNoRequest() async throws {
        let load = LoadLoop(port: port, threads: 4)
        for round in 0..<10 {
            let started = Date()
            defer { print("round \(round): \(Int(Date().timeIntervalSince(started) * 1000)) ms") }
            try await client.scale(id("/rec"), instances: 5, force: true)
            try await Eventually.that("round \(round): 5 backends", within: 30) { try await self.backendsCount() == 5 }
            if round % 3 == 0 {
                // Kill one through the API: it is drained, killed and replaced.
                let victim = try await client.tasks(app: id("/rec"))[0]
                try await client.killTask(id("/rec"), taskId: victim.id)
                try await Eventually.that("round \(round): replaced", within: 30) {
                    let tasks = try await self.client.tasks(app: self.id("/rec"))
                    let inLB = try await self.backendsCount()
                    return !tasks.contains { $0.id == victim.id } && inLB == 5
                }
            }
            try await client.scale(id("/rec"), instances: 1, force: true)
            try await Eventually.that("round \(round): 1 backend, 1 task", within: 30) {
                let inLB = try await self.backendsCount()
                let tasks = try await self.client.tasks(app: self.id("/rec"))
                return inLB == 1 && tasks.count == 1
            }
        }
        let result = load.stop()
        print(
            "scaling under load: \(result.ok) requests, \(result.failed) failed, \(result.resent) resent, spread over \(result.tasks.count) tasks"
        )
        XCTAssertEqual(result.failed, 0, "failures: \(result.failures.prefix(10))")
        XCTAssertGreaterThan(result.ok, 500)
        XCTAssertGreaterThan(result.tasks.count, 5, "traffic reached the added tasks")
    }
}
