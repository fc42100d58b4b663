import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// Issue 18, against real processes: a deployment that cannot progress (its constraint matches no
/// agent) is reported stalled after the configured time — an event, a metric, and why it waits
/// in `/v2/deployments?embed=pacer` — while Marathon's own `/v2/deployments` keeps Marathon's shape.
final class StallVisibilityTests: ClusterTestCase {
    override var frameworkArguments: [String] { ["--deployment-stall-timeout", "2"] }

    actor Recorder {
        var events: [ServerSentEvent] = []
        func add(_ e: ServerSentEvent) { events.append(e) }
    }

    func testAStuckDeploymentSaysWhyAndIsReportedStalled() async throws {
        let recorder = Recorder()
        let client = self.client
        let follower = Task {
            do { for try await e in client.events(types: ["deployment_stalled"]) { await recorder.add(e) } } catch {}
        }
        defer { follower.cancel() }

        let posted = try await post(sleeper("/stuck", instances: 2, extra: #","constraints":[["rack","LIKE","r9"]]"#))
        XCTAssertEqual(posted.status, 201, posted.text)
        try await Eventually.that("the stall event", within: 20) {
            await recorder.events.contains { $0.data.contains(#""reason":"2 instances to launch; "#) }
        }
        let seen = await recorder.events
        let stalled = try XCTUnwrap(seen.first)
        XCTAssertTrue(stalled.data.contains("constraint rack:LIKE:r9 not met"), stalled.data)

        let withPacer = try await client.raw("GET", "/v2/deployments?embed=pacer")
        let list = try XCTUnwrap(try JSONSerialization.jsonObject(with: withPacer.body) as? [[String: Any]])
        let pacer = try XCTUnwrap(list.first?["pacer"] as? [String: Any], withPacer.text)
        XCTAssertEqual(pacer["stalled"] as? Bool, true)
        XCTAssertTrue(
            (pacer["waitingFor"] as? String)?.contains("1 offer did not fit: 1 × constraint rack:LIKE:r9 not met") ?? false,
            withPacer.text)

        let marathon = try await client.raw("GET", "/v2/deployments")
        let plain = try XCTUnwrap(try JSONSerialization.jsonObject(with: marathon.body) as? [[String: Any]])
        XCTAssertEqual(
            Set(plain.first?.keys.map { $0 } ?? []),
            ["id", "version", "affectedApps", "affectedPods", "steps", "currentActions", "currentStep", "totalSteps"])

        let metrics = try await client.raw("GET", "/metrics").text
        XCTAssertTrue(metrics.contains("pacer_deployments_stalled 1"), metrics)

        // Fixed: the constraint goes, the deployment finishes, nothing is stalled any more.
        _ = try await client.raw("PUT", "/v2/apps/stuck?force=true", body: Data(#"{"constraints":[]}"#.utf8))
        try await waitRunning("/stuck", 2)
        try await Eventually.that("no deployment left") { try await client.deployments().isEmpty }
        let after = try await client.raw("GET", "/metrics").text
        XCTAssertTrue(after.contains("pacer_deployments_stalled 0"), after)
    }
}
