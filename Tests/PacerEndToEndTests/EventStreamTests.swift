import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// Every state change of a deploy, a kill and a removal reaches two concurrent subscribers, in order.
final class EventStreamTests: ClusterTestCase {
    actor Recorder {
        var events: [ServerSentEvent] = []
        func add(_ e: ServerSentEvent) { events.append(e) }
    }

    func follow(_ recorder: Recorder, types: [String] = []) -> Task<Void, Never> {
        let client = self.client
        return Task {
            do { for try await e in client.events(types: types) { await recorder.add(e) } } catch {}
        }
    }

    func testTwoSubscribersSeeEveryChangeInOrder() async throws {
        let one = Recorder()
        let two = Recorder()
        let statusOnly = Recorder()
        let followers = [follow(one), follow(two), follow(statusOnly, types: ["status_update_event"])]
        defer { for f in followers { f.cancel() } }
        try await Eventually.that("attached") {
            let (x, y) = (await one.events.count, await two.events.count)
            return x >= 1 && y >= 1
        }

        _ = try await post(sleeper("/watched", instances: 2))
        let tasks = try await waitRunning("/watched", 2)
        try await client.killTask(id("/watched"), taskId: tasks[0].id, scale: true)
        try await waitRunning("/watched", 1)
        _ = try await client.remove(id("/watched"), force: true)
        try await Eventually.that("termination seen by both") {
            let (x, y) = (await one.events, await two.events)
            return x.contains { $0.event == "app_terminated_event" } && y.contains { $0.event == "app_terminated_event" }
        }
        try await Eventually.that("last kill seen") {
            await one.events.filter { $0.event == "status_update_event" && $0.data.contains("TASK_KILLED") }.count == 2
        }
        let a = await one.events
        let b = await two.events
        XCTAssertEqual(a.first?.event, "event_stream_attached")
        let kinds = Set(a.map(\.event))
        for expected in [
            "api_post_event", "deployment_info", "status_update_event", "instance_changed_event",
            "deployment_step_success", "deployment_success", "app_terminated_event"
        ] {
            XCTAssertTrue(kinds.contains(expected), "missing \(expected): \(kinds)")
        }
        // Both saw the same events (after their own attach event), with growing ids.
        XCTAssertEqual(a.dropFirst().map(\.data), b.dropFirst().map(\.data))
        let ids = a.dropFirst().compactMap { $0.id.flatMap(Int64.init) }
        XCTAssertEqual(ids, ids.sorted())
        // Per task, the states arrive in lifecycle order.
        for t in tasks {
            let states = a.filter { $0.event == "status_update_event" && $0.data.contains(t.id) }
                .compactMap { e -> String? in
                    let object = try? JSONSerialization.jsonObject(with: Data(e.data.utf8)) as? [String: Any]
                    return object?["taskStatus"] as? String
                }
            XCTAssertEqual(states.first, "TASK_STARTING", "\(t.id): \(states)")
            XCTAssertTrue(states.contains("TASK_RUNNING"))
            XCTAssertEqual(states.last, "TASK_KILLED", "\(t.id): \(states)")
        }
        let filtered = await statusOnly.events
        // The filter applies to everything, the attach event included (as in Marathon).
        XCTAssertTrue(filtered.allSatisfy { $0.event == "status_update_event" })
        XCTAssertEqual(filtered.count, a.filter { $0.event == "status_update_event" }.count)
    }
}
