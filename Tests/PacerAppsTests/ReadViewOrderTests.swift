import Foundation
import PacerAppsCore
import PacerModel
import XCTest

@testable import PacerApps

/// The read endpoints' order is what Marathon clients see and diff between polls: an app's tasks by
/// when they were staged (then id), `/v2/tasks` by app, then id.
final class ReadViewOrderTests: XCTestCase {
    func testAnAppsTasksComeByStagingTimeThenIdAndAllTasksByAppThenId() throws {
        let a = try PathId(validating: "/a")
        let b = try PathId(validating: "/b")
        // Shuffled with a fixed seed: the table's own order is a hash order, not this one.
        var rng = SeededRandom(seed: 7)
        var records: [TaskRecord] = []
        for i in 0..<300 {
            // Three staging times, so ties are broken by id.
            records.append(task("a.\(String(format: "%03d", i))", of: a, stagedAt: Double((i * 7) % 3)))
            records.append(task("b.\(String(format: "%03d", i))", of: b, stagedAt: Double(i)))
        }
        records.shuffle(using: &rng)
        let view = ReadView(
            apps: [a: AppDefinition(id: a), b: AppDefinition(id: b)], tasks: TaskTable(records),
            deployments: DeploymentTable(), lastFailure: [:])

        let expectedA = records.filter { $0.appId == a }.map { ($0.stagedAt, $0.id) }.sorted { $0 < $1 }.map(\.1)
        XCTAssertEqual(view.records(of: a).map(\.id), expectedA)
        XCTAssertEqual(view.tasks(of: a).map(\.id), expectedA)
        XCTAssertNotEqual(expectedA, expectedA.sorted(), "staging time, not id, leads")

        let all = view.tasks(of: nil).map(\.id)
        let ids = records.map(\.id)
        XCTAssertEqual(all, ids.filter { $0.hasPrefix("a.") }.sorted() + ids.filter { $0.hasPrefix("b.") }.sorted())
        let embedded = view.statuses(embedTasks: true, idFilter: nil)
        XCTAssertEqual(embedded.map(\.status.app.id), [a, b])
        XCTAssertEqual(embedded[0].tasks?.map(\.id), expectedA)
    }

    private func task(_ id: String, of app: PathId, stagedAt: Double) -> TaskRecord {
        TaskRecord(
            id: id, appId: app, agentId: "a", host: "h", agentAttributes: [:], ports: [], servicePorts: [],
            version: "2026-11-30T00:00:00.000Z", stagedAt: Date(timeIntervalSince1970: 1_800_000_000 + stagedAt))
    }
}
