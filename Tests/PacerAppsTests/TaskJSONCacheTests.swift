import Foundation
import PacerAppsCore
import PacerModel
import XCTest

@testable import PacerApps

/// Bulk task reads write a task from the cache when its record, role and shape are unchanged;
/// whatever changes, the bytes must be exactly what writing the task afresh gives.
final class TaskJSONCacheTests: XCTestCase {
    private func fresh(_ records: [TaskRecord], role: String?, marathonOnly: Bool) -> [UInt8] {
        MarathonTask.jsonArray(records.map { MarathonTask($0, role: role) }, marathonOnly: marathonOnly).bytes
    }

    private func cached(
        _ cache: TaskJSONCache, _ records: [TaskRecord], role: String?, marathonOnly: Bool, scope: TaskJSONCache.Scope = .whole
    )
        -> [UInt8]
    {
        var session = cache.session(marathonOnly: marathonOnly)
        var j = JSONBytes()
        j.raw("[")
        var first = true
        session.write(records, role: role, into: &j, first: &first)
        j.raw("]")
        cache.finish(&session, scope)
        return j.bytes
    }

    func testCachedBytesEqualFreshOnesThroughEveryKindOfChange() throws {
        let cache = TaskJSONCache()
        let app = try PathId(validating: "/shop/web")
        var records = (0..<20).map { i in
            TaskRecord(
                id: "shop_web.\(i)", appId: app, agentId: "agent-\(i % 3)", host: "10.0.0.\(i % 3)",
                agentAttributes: ["zone": "z\(i % 2)"], ports: [31_000 + i], servicePorts: [10_000], version: "v1",
                stagedAt: Date(timeIntervalSince1970: 1_800_000_000 + Double(i)))
        }
        for marathonOnly in [true, false] {
            XCTAssertEqual(
                cached(cache, records, role: nil, marathonOnly: marathonOnly),
                fresh(records, role: nil, marathonOnly: marathonOnly))
        }
        // Running, healthy, draining, a terminal message: each changes the bytes, none is served stale.
        records[0].state = .running
        records[0].startedAt = Date(timeIntervalSince1970: 1_800_000_100)
        records[1].healthy = false
        records[1].healthCheckResults = [
            HealthCheckResult(alive: false, consecutiveFailures: 2, lastFailureCause: "503", taskId: "shop_web.1")
        ]
        records[2].draining = true
        records[2].ready = true
        records[3].state = .failed
        records[3].message = "exit 1"
        for marathonOnly in [true, false] {
            XCTAssertEqual(
                cached(cache, records, role: nil, marathonOnly: marathonOnly),
                fresh(records, role: nil, marathonOnly: marathonOnly))
        }
        // Another role, and the same again from the cache.
        XCTAssertEqual(cached(cache, records, role: "web", marathonOnly: true), fresh(records, role: "web", marathonOnly: true))
        XCTAssertEqual(cached(cache, records, role: "web", marathonOnly: true), fresh(records, role: "web", marathonOnly: true))
        // A partial read keeps the rest; a whole read keeps only what it wrote.
        XCTAssertEqual(
            cached(cache, Array(records.prefix(5)), role: "web", marathonOnly: true, scope: .part(of: TaskTable(records))),
            fresh(Array(records.prefix(5)), role: "web", marathonOnly: true))
        XCTAssertEqual(cache.count(marathonOnly: true), 20)
        XCTAssertEqual(
            cached(cache, Array(records.prefix(5)), role: "web", marathonOnly: true),
            fresh(Array(records.prefix(5)), role: "web", marathonOnly: true))
        XCTAssertEqual(cache.count(marathonOnly: true), 5, "tasks no longer listed leave the cache")
    }

    func testPartialReadsDropEndedTasksOnceTheCacheOutgrowsTheLiveOnes() throws {
        let cache = TaskJSONCache()
        let app = try PathId(validating: "/churn")
        func record(_ i: Int) -> TaskRecord {
            TaskRecord(
                id: "churn.\(i)", appId: app, agentId: "a", host: "h", agentAttributes: [:], ports: [], servicePorts: [],
                version: "v", stagedAt: Date(timeIntervalSince1970: 1_800_000_000))
        }
        // Ten live tasks at a time, replaced a hundred times over, read one app at a time (as
        // during churn): the cache never holds more than its bound.
        var most = 0
        for round in 0..<300 {
            let live = (0..<10).map { record(round * 10 + $0) }
            _ = cached(cache, live, role: nil, marathonOnly: true, scope: .part(of: TaskTable(live)))
            most = max(most, cache.count(marathonOnly: true))
        }
        XCTAssertLessThanOrEqual(most, TaskJSONCache.bound(live: 10))
        XCTAssertGreaterThan(most, 100, "entries are kept between reads")
    }

    /// `/v2/apps` writes a status as its spec (cached), its counters and its tasks: the same object
    /// as the encoder's, whatever the status holds, in both shapes, from the cache or not.
    func testAnAppObjectIsTheEncodersObject() throws {
        var spec = AppDefinition(id: try PathId(validating: "/shop/web"))
        spec.cmd = "serve --port $PORT0"
        spec.instances = 3
        spec.labels = ["HAPROXY_GROUP": "external"]
        spec.env = ["QUOTE": "say \"hi\"/ok"]
        var failed = TaskRecord(
            id: "shop_web.f", appId: spec.id, agentId: "agent-1", host: "10.0.0.1", agentAttributes: [:], ports: [31_000],
            servicePorts: [10_000], version: "v1", stagedAt: Date(timeIntervalSince1970: 1_800_000_000))
        failed.state = .failed
        failed.message = "exit 1"
        var running = TaskRecord(
            id: "shop_web.r", appId: spec.id, agentId: "agent-2", host: "10.0.0.2", agentAttributes: ["zone": "b"],
            ports: [31_001], servicePorts: [10_000], version: "v1", stagedAt: Date(timeIntervalSince1970: 1_800_000_001))
        running.state = .running
        running.healthy = true
        var plain = AppStatus(app: spec)
        plain.tasksRunning = 1
        plain.tasksHealthy = 1
        var busy = plain
        busy.deployments = ["d-1"]
        busy.lastTaskFailure = TaskFailure(failed, at: Date(timeIntervalSince1970: 1_800_000_050))
        busy.tasksStaged = 2
        busy.tasksUnhealthy = 4
        for pacer in [false, true] {
            let encoder = MarathonShape.encoder(pacer: pacer)
            for status in [plain, busy] {
                for tasks in [nil, [running, failed]] as [[TaskRecord]?] {
                    for _ in 0..<2 {  // written afresh, then from the caches
                        var session = TaskJSONCache().session(marathonOnly: !pacer)
                        var j = JSONBytes()
                        try BulkJSON.object(
                            EmbeddedStatus(status: status, tasks: tasks), encoder: encoder, session: &session, into: &j)
                        var expected = status
                        expected.tasks = tasks?.map { MarathonTask($0, role: spec.role) }
                        let ours = try JSONSerialization.jsonObject(with: Data(j.bytes)) as? NSDictionary
                        let theirs = try JSONSerialization.jsonObject(with: encoder.encode(expected)) as? NSDictionary
                        XCTAssertEqual(
                            ours, theirs, "pacer \(pacer), deployments \(status.deployments), tasks \(tasks?.count ?? -1)")
                    }
                }
            }
        }
    }
}
