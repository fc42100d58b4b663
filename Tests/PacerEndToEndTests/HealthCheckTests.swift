import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

final class HealthCheckTests: ClusterTestCase {
    /// An HTTP server that is healthy while the file `healthy` exists in its sandbox.
    func server(_ app: String, instances: Int, checks: String) -> String {
        #"{"id":"\#(app)","cmd":"touch healthy ok && exec python3 -m http.server $PORT0 --bind 127.0.0.1","#
            + #""instances":\#(instances),"cpus":0.01,"mem":64,"resourceLimits":{"cpus":"unlimited"},"healthChecks":[\#(checks)]}"#
    }
    let fast = #""intervalSeconds":1,"timeoutSeconds":1,"gracePeriodSeconds":10,"delaySeconds":0,"maxConsecutiveFailures":3"#

    func waitHealthy(_ app: String, _ n: Int) async throws -> AppStatus {
        let client = self.client
        let appId = id(app)
        return try await Eventually.value("\(app): \(n) healthy", within: 15) {
            let s = try await client.app(appId)
            return s.tasksHealthy == n && s.tasksRunning == n ? s : nil
        }
    }

    func testHTTPCheckMakesTasksHealthyAndShowsResults() async throws {
        let r = try await post(server("/web", instances: 2, checks: #"{"protocol":"HTTP","path":"/healthy",\#(fast)}"#))
        XCTAssertEqual(r.status, 201, r.text)
        let status = try await waitHealthy("/web", 2)
        XCTAssertEqual(status.tasksUnhealthy, 0)
        let results = try XCTUnwrap(status.tasks?.first?.healthCheckResults.first)
        XCTAssertTrue(results.alive)
        XCTAssertNotNil(results.firstSuccess)
        XCTAssertEqual(results.taskId, status.tasks?.first?.id)
        try await Eventually.that("deployment done") { try await self.client.deployments().isEmpty }

        // Health is kept across a framework crash: no reset to "unknown".
        cluster.framework.kill9()
        try cluster.startFramework()
        try await cluster.ready()
        let after = try await client.app(id("/web"))
        XCTAssertEqual(after.tasksHealthy, 2)
    }

    func testTaskWhoseHealthStartsFailingIsReplacedInTime() async throws {
        _ = try await post(server("/flaky", instances: 2, checks: #"{"protocol":"HTTP","path":"/healthy",\#(fast)}"#))
        let status = try await waitHealthy("/flaky", 2)
        let victim = try XCTUnwrap(status.tasks?.first)
        let sandbox = "\(cluster.dir)/agent-\(cluster.agentPort)/sandboxes/\(victim.id)"
        let started = Date()
        try FileManager.default.removeItem(atPath: sandbox + "/healthy")
        let client = self.client
        let appId = id("/flaky")
        try await Eventually.that("replaced and healthy", within: 1 * 3 + 5) {
            let s = try await client.app(appId)
            return s.tasksHealthy == 2 && s.tasks?.contains { $0.id == victim.id } == false
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 8)
    }

    func testTCPAndCommandChecks() async throws {
        let checks =
            #"{"protocol":"TCP","portIndex":0,\#(fast)},{"protocol":"COMMAND","command":{"value":"test -f ok"},\#(fast)}"#
        let r = try await post(server("/both", instances: 1, checks: checks))
        XCTAssertEqual(r.status, 201, r.text)
        let status = try await waitHealthy("/both", 1)
        XCTAssertEqual(status.tasks?.first?.healthCheckResults.count, 2)
        // A command that fails makes the task unhealthy (and, past the threshold, replaced).
        let bad =
            #"{"protocol":"COMMAND","command":{"value":"exit 3"},"intervalSeconds":1,"timeoutSeconds":1,"#
            + #""gracePeriodSeconds":0,"delaySeconds":0,"maxConsecutiveFailures":0}"#
        _ = try await post(server("/sick", instances: 1, checks: bad))
        let client = self.client
        let sick = id("/sick")
        let unhealthy = try await Eventually.value("unhealthy", within: 10) { () -> AppStatus? in
            let s = try await client.app(sick)
            return s.tasksUnhealthy == 1 ? s : nil
        }
        XCTAssertEqual(unhealthy.tasks?.first?.healthCheckResults.first?.lastFailureCause, "command exited with status 3")
    }
}
