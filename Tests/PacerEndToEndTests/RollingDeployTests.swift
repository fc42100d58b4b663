import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import Synchronization
import XCTest

/// Issue 4's promise under live traffic: an app of 10 health-checked instances behind the LB,
/// clients sending continuously; rolling restarts and a version that never becomes healthy (held,
/// then rolled back) fail no request; two event subscribers see every change, in the same order.
final class RollingDeployTests: HTTPTestCase {
    override func setUp() async throws {
        try await super.setUp()
        let r = try await client.raw(
            "PUT", "/v2/apps/rec?force=true",
            body: try JSONSerialization.data(withJSONObject: [
                "instances": 10, "healthChecks": [ZeroDowntimeTests.check],
                "upgradeStrategy": ["minimumHealthCapacity": 1, "maximumOverCapacity": 0.2]
            ]))
        XCTAssertEqual(r.status, 200, r.text)
        try await waitServing(10)
    }

    func waitServing(_ count: Int, within: Double = 60) async throws {
        try await Eventually.that("\(count) healthy tasks in the LB, no deployment", within: within) {
            let inLB = try await self.backends(self.port).count
            let deployments = try await self.client.deployments()
            return inLB == count && deployments.isEmpty
        }
    }

    /// Collects events from its own subscription to `/v2/events`.
    final class Subscriber: Sendable {
        final class Box: Sendable { let events = Mutex<[ServerSentEvent]>([]) }
        let box = Box()
        let task: Task<Void, Never>
        init(_ client: MarathonClient) {
            let box = self.box
            task = Task {
                do { for try await e in client.events() { box.events.withLock { $0.append(e) } } } catch {}
            }
        }
        var seen: [ServerSentEvent] { box.events.withLock { $0 } }
        func stop() { task.cancel() }
    }

    func testRollingRestartFailsNoRequestAndTwoSubscribersSeeItAllInOrder() async throws {
        let a = Subscriber(client)
        let b = Subscriber(client)
        try await Eventually.that("both subscribers attached") {
            a.seen.contains { $0.event == "event_stream_attached" } && b.seen.contains { $0.event == "event_stream_attached" }
        }
        let before = Set(try await client.tasks(app: id("/rec")).map(\.id))
        let load = LoadLoop(port: port, threads: 4)
        let started = Date()
        let deployment = try await client.restart(id("/rec"))
        try await Eventually.that("restart finished", within: 120) {
            let now = Set(try await self.client.tasks(app: self.id("/rec")).map(\.id))
            let deployments = try await self.client.deployments()
            return now.count == 10 && now.isDisjoint(with: before) && deployments.isEmpty
        }
        try await waitServing(10)
        let result = load.stop()
        print(
            "rolling restart of 10: \(Int(Date().timeIntervalSince(started) * 1000)) ms, \(result.ok) requests, \(result.failed) failed"
        )
        XCTAssertEqual(result.failed, 0, "failures: \(result.failures.prefix(10))")
        XCTAssertGreaterThan(result.tasks.count, 15, "old and new tasks both served")
        // Both subscribers: the same events in the same order, the deployment from info to success.
        try await Eventually.that("deployment_success delivered to both") {
            a.seen.contains { $0.event == "deployment_success" && $0.data.contains(deployment.deploymentId) }
                && b.seen.contains { $0.event == "deployment_success" && $0.data.contains(deployment.deploymentId) }
        }
        a.stop()
        b.stop()
        let sa = a.seen.filter { $0.event != "event_stream_attached" }
        let sb = b.seen.filter { $0.event != "event_stream_attached" }
        let common = min(sa.count, sb.count)
        XCTAssertEqual(sa.prefix(common).map(\.id), sb.prefix(common).map(\.id))
        let ids = sa.compactMap { $0.id.flatMap(Int.init) }
        XCTAssertEqual(ids, ids.sorted(), "ids increase")
        let types = sa.map(\.event)
        for t in [
            "deployment_info", "status_update_event", "health_status_changed_event", "instance_draining_event",
            "deployment_step_success", "deployment_success"
        ] {
            XCTAssertTrue(types.contains(t), "\(t) in \(Set(types))")
        }
        let kills = sa.filter { $0.event == "status_update_event" && $0.data.contains("TASK_KILLED") }
        XCTAssertEqual(
            Set(before.filter { id in kills.contains { $0.data.contains(id) } }), before, "every old task's end was reported")
        XCTAssertLessThan(types.firstIndex(of: "deployment_info")!, types.lastIndex(of: "deployment_success")!)
    }

    func testAVersionThatNeverGetsHealthyIsHeldThenRolledBackWithoutAFailedRequest() async throws {
        let old = Set(try await client.tasks(app: id("/rec")).map(\.id))
        let load = LoadLoop(port: port, threads: 4)
        // Listens nowhere: its health check never passes.
        let r = try await client.raw("PUT", "/v2/apps/rec", body: Data(#"{"cmd": "exec sleep 3600"}"#.utf8))
        XCTAssertEqual(r.status, 200, r.text)
        let deploymentId =
            try XCTUnwrap(try JSONSerialization.jsonObject(with: r.body) as? [String: Any])["deploymentId"] as? String
        try await Task.sleep(for: .seconds(4))
        let during = try await client.tasks(app: id("/rec"))
        XCTAssertTrue(old.isSubset(of: Set(during.map(\.id))), "the old version keeps serving while the new one is unhealthy")
        XCTAssertLessThanOrEqual(during.count, 12, "never more than (1 + 0.2) x 10 tasks")
        let inLB = try await backends(port).count
        XCTAssertEqual(inLB, 10)
        let rollback = try await client.raw("DELETE", "/v2/deployments/\(try XCTUnwrap(deploymentId))")
        XCTAssertEqual(rollback.status, 200, rollback.text)
        try await waitServing(10)
        try await Eventually.that("only the old version's tasks remain", within: 30) {
            Set(try await self.client.tasks(app: self.id("/rec")).map(\.id)) == old
        }
        let result = load.stop()
        print("held and rolled back: \(result.ok) requests, \(result.failed) failed")
        XCTAssertEqual(result.failed, 0, "failures: \(result.failures.prefix(10))")
        let app = try await client.raw("GET", "/v2/apps/rec")
        XCTAssertFalse(app.text.contains("sleep 3600"), "the spec is the old one again")
    }

    /// A canary of 2 beside 10: it gets its share of traffic through the LB, is held, and its
    /// promotion rolls the app to its spec; all under load without a failed request.
    func testCanaryGetsItsShareThenPromotionRollsTheAppWithoutAFailedRequest() async throws {
        let old = Set(try await client.tasks(app: id("/rec")).map(\.id))
        let load = LoadLoop(port: port, threads: 4)
        let r = try await client.raw(
            "POST", "/v2/apps/rec/canary?instances=2", body: Data(#"{"env": {"FLAVOUR": "canary"}}"#.utf8))
        XCTAssertEqual(r.status, 201, r.text)
        let deploymentId = try XCTUnwrap(
            (try JSONSerialization.jsonObject(with: r.body) as? [String: Any])?["deploymentId"] as? String)
        try await Eventually.that("12 backends: 10 + 2 canaries", within: 30) { try await self.backends(self.port).count == 12 }
        let canaries = Set(try await client.tasks(app: id("/rec")).map(\.id)).subtracting(old)
        XCTAssertEqual(canaries.count, 2)
        let before = load.snapshot
        try await Task.sleep(for: .seconds(2))
        let window = load.snapshot
        let total = window.ok - before.ok
        let toCanaries = canaries.map { (window.tasks[$0] ?? 0) - (before.tasks[$0] ?? 0) }.reduce(0, +)
        let share = Double(toCanaries) / Double(max(total, 1))
        print("canary share: \(toCanaries) of \(total) requests (\(Int(share * 100))%)")
        XCTAssertGreaterThan(share, 0.08)
        XCTAssertLessThan(share, 0.30)
        let deployments = try await client.deployments()
        XCTAssertTrue(deployments.contains { $0.id == deploymentId }, "held until promoted")
        let held = Set(try await client.tasks(app: id("/rec")).map(\.id))
        XCTAssertEqual(held, old.union(canaries), "nothing replaced while held")

        let promoted = try await client.raw("POST", "/v2/deployments/\(deploymentId)/promote")
        XCTAssertEqual(promoted.status, 200, promoted.text)
        try await Eventually.that("the app runs the canary's spec everywhere", within: 120) {
            let tasks = Set(try await self.client.tasks(app: self.id("/rec")).map(\.id))
            let deployments = try await self.client.deployments()
            return tasks.count == 10 && tasks.isDisjoint(with: old) && canaries.isSubset(of: tasks) && deployments.isEmpty
        }
        try await waitServing(10)
        let result = load.stop()
        print("canary then promotion: \(result.ok) requests, \(result.failed) failed")
        XCTAssertEqual(result.failed, 0, "failures: \(result.failures.prefix(10))")
        let app = try await client.raw("GET", "/v2/apps/rec")
        XCTAssertTrue(app.text.contains("canary"), "the app's spec is the canary's")
    }

    func testAbortedCanaryLeavesTheAppAsItWas() async throws {
        let old = Set(try await client.tasks(app: id("/rec")).map(\.id))
        let r = try await client.raw("POST", "/v2/apps/rec/canary?instances=1", body: Data(#"{"cmd": "exec sleep 3600"}"#.utf8))
        XCTAssertEqual(r.status, 201, r.text)
        let deploymentId = try XCTUnwrap(
            (try JSONSerialization.jsonObject(with: r.body) as? [String: Any])?["deploymentId"] as? String)
        try await Eventually.that("the canary task runs", within: 20) {
            (try await self.client.tasks(app: self.id("/rec"))).count == 11
        }
        let inLB = try await backends(port).count
        XCTAssertEqual(inLB, 10, "an unhealthy canary gets no traffic")
        let locked = try await client.raw("PUT", "/v2/apps/rec", body: Data(#"{"instances": 3}"#.utf8))
        XCTAssertEqual(locked.status, 409, "the app is locked by its canary")
        let aborted = try await client.raw("POST", "/v2/deployments/\(deploymentId)/abort")
        XCTAssertEqual(aborted.status, 204, aborted.text)
        try await Eventually.that("only the old tasks", within: 30) {
            let tasks = Set(try await self.client.tasks(app: self.id("/rec")).map(\.id))
            let deployments = try await self.client.deployments()
            return tasks == old && deployments.isEmpty
        }
    }
}
