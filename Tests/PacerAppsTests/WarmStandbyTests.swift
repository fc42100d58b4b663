import Foundation
import PacerModel
import PacerStore
import PacerTestKit
import XCTest

@testable import PacerApps

/// A follower's warm copy against a real etcd: after any mix of writes, deletions and new keys,
/// what it holds at a revision is exactly what a full read of the store decodes; a copy never read
/// is not used.
final class WarmStandbyTests: XCTestCase {
    var dir = ""
    var etcd: EtcdCluster?

    override func setUp() async throws {
        dir = NSTemporaryDirectory() + "pacer-warm-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        if let run = testRun, run.failureCount + run.unexpectedExceptionCount > 0, let etcd { print(etcd.logs) }
        etcd?.stop()
        try? FileManager.default.removeItem(atPath: dir)
    }

    func testTheWarmCopyEqualsAFullReadAfterEveryKindOfChange() async throws {
        let cluster = try EtcdCluster(size: 1, dir: dir)
        etcd = cluster
        try await cluster.ready()
        let store = EtcdStore(
            endpoints: cluster.endpoints.map { "http://" + $0 }, namespace: "/w-\(UUID().uuidString.prefix(8))/", listPage: 50)
        let repo = AppsRepository(store: store)
        let apps = try (0..<20).map { i in
            var app = AppDefinition(id: try PathId(validating: "/warm/app-\(i)"))
            app.cmd = "sleep 3600"
            app.version = "2026-11-30T00:00:00.000Z"
            return app
        }
        for app in apps { try await repo.putApp(app) }
        try await repo.putTasks((0..<300).map { task("t\($0)", of: apps[$0 % 20].id) })
        let warm = WarmStandby(store: store)
        let warming = Task { await warm.keepWarm(every: .milliseconds(50)) }
        defer { warming.cancel() }
        try await Eventually.that("the copy holds every record") {
            let c = await warm.counts
            return c.apps == 20 && c.tasks == 300
        }
        // Changed, deleted and new records, while the copy keeps refreshing.
        var running = task("t7", of: apps[7].id)
        running.state = .running
        try await repo.putTasks([running] + (300..<340).map { task("t\($0)", of: apps[0].id) })
        try await repo.deleteTasks((100..<150).map { "t\($0)" })
        try await repo.deleteApp(apps[19].id)
        var changed = apps[3]
        changed.cmd = "sleep 7200"
        try await repo.putApp(changed)
        // Deleted and written again: the record stays, whichever the copy learns of first.
        try await repo.deleteTasks(["t200"])
        try await repo.putTasks([task("t200", of: apps[0].id)])
        let now = try await store.revision()
        warming.cancel()
        await warming.value
        let copy = await warm.current(atLeast: now)
        await warm.stop()
        let fromCopy = try XCTUnwrap(copy, "the copy reached the revision with the store's counts")
        let fromStore = try await (repo.apps(), repo.tasks())
        XCTAssertEqual(fromCopy.0.sorted { $0.id < $1.id }, fromStore.0.sorted { $0.id < $1.id })
        XCTAssertEqual(fromCopy.1.sorted { $0.id < $1.id }, fromStore.1.sorted { $0.id < $1.id })
        XCTAssertEqual(fromCopy.1.count, 290)
        XCTAssertEqual(fromCopy.1.first { $0.id == "t7" }?.state, .running)
        XCTAssertEqual(fromCopy.0.first { $0.id == apps[3].id }?.cmd, "sleep 7200")
        XCTAssertNil(fromCopy.0.first { $0.id == apps[19].id })
    }

    func testACopyNeverReadIsNotUsed() async throws {
        let cluster = try EtcdCluster(size: 1, dir: dir)
        etcd = cluster
        try await cluster.ready()
        let store = EtcdStore(
            endpoints: cluster.endpoints.map { "http://" + $0 }, namespace: "/w-\(UUID().uuidString.prefix(8))/")
        let warm = WarmStandby(store: store)
        let copy = await warm.current(atLeast: 1)
        XCTAssertNil(copy, "never read: the leader reads in full")
    }

    private func task(_ id: String, of app: PathId) -> TaskRecord {
        TaskRecord(
            id: id, appId: app, agentId: "a", host: "h", agentAttributes: [:], ports: [], servicePorts: [],
            version: "2026-11-30T00:00:00.000Z", stagedAt: Date(timeIntervalSince1970: 1_800_000_000), state: .staging)
    }
}
