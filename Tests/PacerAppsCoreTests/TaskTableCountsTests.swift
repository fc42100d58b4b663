import Foundation
import PacerModel
import XCTest

@testable import PacerAppsCore

/// `/v2/apps` and `/metrics` read an app's counts from the task table's counters instead of its
/// records (issue 12). Through any sequence of launches, state and health changes, app moves and
/// removals, the counters must equal a count of the records.
final class TaskTableCountsTests: XCTestCase {
    func testCountersEqualACountOfTheRecordsAfterEveryRandomChange() throws {
        let apps = try ["/a", "/b", "/c"].map { try PathId(validating: $0) }
        let states: [TaskState] = [.staging, .starting, .running, .killing, .finished, .failed, .killed, .unreachable]
        let health: [Bool?] = [nil, true, false]
        var rng = SeededRandom(seed: 12)
        var table = TaskTable()
        for step in 0..<3_000 {
            let id = "t\(Int.random(in: 0..<60, using: &rng))"
            if Int.random(in: 0..<10, using: &rng) == 0 {
                table[id] = nil
            } else {
                var r = TaskRecord(
                    id: id, appId: apps.randomElement(using: &rng)!, agentId: "a", host: "h", agentAttributes: [:],
                    ports: [], servicePorts: [], version: "v", stagedAt: Date(timeIntervalSince1970: 0))
                r.state = states.randomElement(using: &rng)!
                r.healthy = health.randomElement(using: &rng)!
                table[id] = r
            }
            for app in apps {
                let records = table.values.filter { $0.appId == app }
                XCTAssertEqual(table.counts(of: app), AppTaskCounts(records), "step \(step), \(app)")
                XCTAssertEqual(table.runningCount(of: app), records.filter { $0.state == .running }.count)
            }
        }
        XCTAssertGreaterThan(
            table.counts(of: apps[0]).healthy + table.counts(of: apps[1]).unhealthy, 0, "health was counted at all")
    }
}
