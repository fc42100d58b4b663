import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// F12 of RELIABILITY.md: the leading replica is killed in the middle of a rolling deploy of
/// health-checked tasks. The new leader continues the same deployment (no second one), keeps the
/// new tasks already started, and finishes with exactly the new version's count.
extension FrameworkHATests {
    func testF12TheDeploymentContinuesUnderTheNewLeader() async throws {
        let first = try await agreedLeader()
        // Healthy about 2 s after start: a roll of 3, one at a time, takes several seconds.
        let backend = try Backends.command(Backends.httpRecorder, name: "slow", in: dir)
        chmod(dir, 0o755)
        let spec: [String: Any] = [
            "id": "/roll", "cmd": "sleep 2; " + backend, "instances": 3, "cpus": 0.01, "mem": 64,
            "resourceLimits": ["cpus": "unlimited"], "env": ["V": "1"],
            "healthChecks": [
                [
                    "protocol": "HTTP", "path": "/health", "portIndex": 0, "intervalSeconds": 1, "timeoutSeconds": 1,
                    "gracePeriodSeconds": 15, "delaySeconds": 0, "maxConsecutiveFailures": 5
                ]
            ],
            "upgradeStrategy": ["minimumHealthCapacity": 1, "maximumOverCapacity": 0.34]
        ]
        let posted = try await client(first).raw("POST", "/v2/apps", body: try JSONSerialization.data(withJSONObject: spec))
        XCTAssertEqual(posted.status, 201, posted.text)
        let roll = try PathId(validating: "/roll")
        try await Eventually.that("3 healthy, nothing deploying", within: 40) {
            let app = try await self.client(first).app(roll)
            let deployments = try await self.client(first).deployments()
            return app.tasksHealthy == 3 && deployments.isEmpty
        }
        let oldTasks = Set(try await client(first).tasks(app: roll).map(\.id))

        let put = try await client(first).raw("PUT", "/v2/apps/roll", body: Data(#"{"env":{"V":"2"}}"#.utf8))
        XCTAssertEqual(put.status, 200, put.text)
        let deploymentId = try await Eventually.value("the deployment runs", within: 5) { () -> String? in
            try await self.client(first).deployments().first?.id
        }
        // Kill the leader once the roll has started a new task but not finished.
        try await Eventually.that("a new-version task is up", within: 20) {
            try await self.client(first).tasks(app: roll).contains { !oldTasks.contains($0.id) && $0.state == "TASK_RUNNING" }
        }
        let startedBefore = Set(
            try await client(first).tasks(app: roll).filter { !oldTasks.contains($0.id) && $0.state == "TASK_RUNNING" }.map(\.id))
        replicas[first]!.kill9()
        let second = try await agreedLeader()
        var seen: Set<String> = []
        try await Eventually.that("the deployment finishes under the new leader", within: 60) {
            let deployments = try await self.client(second).deployments()
            seen.formUnion(deployments.map(\.id))
            let tasks = try await self.client(second).tasks(app: roll)
            return deployments.isEmpty && tasks.count == 3
                && tasks.allSatisfy { !oldTasks.contains($0.id) && $0.state == "TASK_RUNNING" }
        }
        XCTAssertTrue(seen.isSubset(of: [deploymentId]), "the same deployment continued, no second one: saw \(seen)")
        let final = Set(try await client(second).tasks(app: roll).map(\.id))
        XCTAssertTrue(startedBefore.isSubset(of: final), "new tasks started before the failover were kept")
        let app = try await client(second).app(roll)
        XCTAssertEqual(app.tasksHealthy, 3)
        print(
            "F12: deployment \(deploymentId) continued under the new leader; \(startedBefore.count) new task(s) from before the failover kept"
        )
    }
}
