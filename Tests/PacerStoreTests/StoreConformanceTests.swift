import Foundation
import PacerClient
import PacerStore
import PacerTestKit
import Synchronization
import XCTest

/// One suite of checks, run against every store implementation.
enum StoreConformance {
    static func putGetListDelete(_ store: any StateStore) async throws {
        try await store.put("apps/a", Data("1".utf8))
        try await store.put("apps/b", Data("2".utf8))
        try await store.put("apps_c", Data("x".utf8))
        try await store.put("tasks/t", Data("3".utf8))
        let got = try await store.get("apps/a")
        XCTAssertEqual(got, Data("1".utf8))
        let missing = try await store.get("nope")
        XCTAssertNil(missing)
        let apps = try await store.list(prefix: "apps/")
        XCTAssertEqual(Set(apps.keys), ["apps/a", "apps/b"])
        try await store.put("apps/a", Data("changed".utf8))
        try await store.delete("apps/b")
        let after = try await store.list(prefix: "apps/")
        XCTAssertEqual(after, ["apps/a": Data("changed".utf8)])
    }

    static func batchesApplyTogether(_ store: any StateStore) async throws {
        try await store.apply([.put("k1", Data("a".utf8)), .put("k2", Data("b".utf8)), .delete("k1")])
        let all = try await store.list(prefix: "k")
        XCTAssertEqual(all, ["k2": Data("b".utf8)])
    }

    static func prefixWildcardsMeanThemselves(_ store: any StateStore) async throws {
        try await store.put("a%b/1", Data())
        try await store.put("axb/1", Data())
        let hits = try await store.list(prefix: "a%b/")
        XCTAssertEqual(Array(hits.keys), ["a%b/1"])
    }
}

/// What every store's test class runs.
protocol StoreConformanceTests: XCTestCase {
    func makeStore() throws -> any StateStore
}

extension StoreConformanceTests {
    func runConformance() async throws {
        try await StoreConformance.putGetListDelete(try makeStore())
        try await StoreConformance.batchesApplyTogether(try makeStore())
        try await StoreConformance.prefixWildcardsMeanThemselves(try makeStore())
    }
}

final class InMemoryStoreTests: XCTestCase, StoreConformanceTests {
    func makeStore() throws -> any StateStore { InMemoryStore() }
    func testConformance() async throws { try await runConformance() }
}

final class SQLiteStoreTests: XCTestCase, StoreConformanceTests {
    func testConformance() async throws { try await runConformance() }
    var dir: String!
    override func setUp() {
        dir = NSTemporaryDirectory() + "pacer-store-\(UUID().uuidString)"
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }
    func makeStore() throws -> any StateStore { try SQLiteStore(path: dir + "/\(UUID().uuidString).sqlite") }

    func testWritesSurviveReopen() async throws {
        do {
            let store = try SQLiteStore(path: dir + "/s.sqlite")
            try await store.put("apps/a", Data("1".utf8))
        }
        let again = try SQLiteStore(path: dir + "/s.sqlite")
        let value = try await again.get("apps/a")
        XCTAssertEqual(value, Data("1".utf8))
    }

    /// Writers at once share commits (group commit): every batch lands, each writer's own batches
    /// in its order (the last write of a key wins), and all of it is there after a reopen.
    func testConcurrentBatchesAllLandInTheirWritersOrder() async throws {
        let path = dir + "/g.sqlite"
        do {
            let store = try SQLiteStore(path: path)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<50 {
                    group.addTask {
                        for step in 0..<20 {
                            try await store.apply([
                                .put("w/\(writer)/\(step)", Data("\(step)".utf8)), .put("last/\(writer)", Data("\(step)".utf8))
                            ])
                        }
                        try await store.apply([.delete("w/\(writer)/0")])
                    }
                }
                try await group.waitForAll()
            }
        }
        let again = try SQLiteStore(path: path)
        let listed = try await again.list(prefix: "w/")
        XCTAssertEqual(listed.count, 50 * 19, "every batch, less each writer's deleted first key")
        let last = try await again.list(prefix: "last/")
        XCTAssertEqual(Set(last.values), [Data("19".utf8)], "each writer's batches applied in its order")
    }

    func testGarbageFileIsRefusedWithAClearError() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/bad.sqlite", contents: Data(repeating: 0x5A, count: 8192))
        XCTAssertThrowsError(try SQLiteStore(path: dir + "/bad.sqlite")) { error in
            XCTAssertTrue("\(error)".contains("bad.sqlite"), "\(error)")
        }
    }
}

/// The etcd store against a real etcd on loopback: the same conformance suite, then what only a
/// replicated store must do — fencing, following a live member, surviving the loss of one of three.
final class EtcdStoreTests: XCTestCase, StoreConformanceTests {
    var dir = ""
    var etcd: EtcdCluster!

    override func setUp() async throws {
        dir = NSTemporaryDirectory() + "pacer-etcd-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        if let run = testRun, run.failureCount + run.unexpectedExceptionCount > 0, let etcd { print(etcd.logs) }
        etcd?.stop()
        try? FileManager.default.removeItem(atPath: dir)
    }

    func start(_ size: Int) async throws {
        etcd = try EtcdCluster(size: size, dir: dir)
        try await etcd.ready()
    }

    func makeStore() throws -> any StateStore {
        // Each store in its own namespace, so the suite's checks do not see each other's keys.
        EtcdStore(endpoints: etcd.endpoints.map { "http://" + $0 }, namespace: "/t-\(UUID().uuidString.prefix(8))/")
    }

    func testConformance() async throws {
        try await start(1)
        try await runConformance()
    }

    /// A `LeaderWatch` (what agents follow the masters' election with) reports the leader at the
    /// start and every change after: no one, the first leader, no one after it resigns, the next.
    func testALeaderWatchSeesEveryLeaderInTurn() async throws {
        try await start(1)
        let gateway = EtcdGateway(endpoints: etcd.endpoints.map { "http://" + $0 })
        let key = "/t-\(UUID().uuidString.prefix(8))/leader"
        let seen = Seen()
        let watching = Task { await LeaderWatch(gateway: gateway, key: key).follow { seen.add($0) } }
        defer { watching.cancel() }
        try await Eventually.that("the watch reports no leader") { seen.values == [nil] }
        let first = LeaderElection(gateway: gateway, key: key, ttl: 2)
        let won = try await first.campaign(value: "10.0.0.1:5050")
        XCTAssertNotNil(won, "the key was free")
        try await Eventually.that("the watch reports the first leader") { seen.values == [nil, "10.0.0.1:5050"] }
        await first.resign()
        let second = LeaderElection(gateway: gateway, key: key, ttl: 2)
        let next = try await second.campaign(value: "10.0.0.2:5050")
        XCTAssertNotNil(next, "the key was free again")
        try await Eventually.that("the watch reports the resignation and the next leader") {
            seen.values == [nil, "10.0.0.1:5050", nil, "10.0.0.2:5050"]
        }
        await second.resign()
    }

    /// An abdication ends the leadership at once even when etcd does not answer the revoke: the
    /// leader must stop acting, not wait for (or, as once seen, be fooled by) a slow revoke.
    func testResigningEndsTheLeadershipEvenWhileEtcdIsFrozen() async throws {
        try await start(1)
        let gateway = EtcdGateway(endpoints: etcd.endpoints.map { "http://" + $0 })
        let election = LeaderElection(gateway: gateway, key: "/t-\(UUID().uuidString.prefix(8))/leader", ttl: 2)
        let won = try await election.campaign(value: "me")
        XCTAssertNotNil(won, "the key was free")
        let leading = Task { try await election.keepLeading() }
        try await Task.sleep(for: .milliseconds(500))  // a renewal or two went through
        etcd.members[0]!.signal(SIGSTOP)
        defer { etcd.members[0]!.signal(SIGCONT) }
        let resigning = Task { await election.resign() }  // its revoke hangs until the gateway's timeout
        do {
            try await leading.value
            XCTFail("keepLeading returned as if still leading")
        } catch {
            XCTAssertTrue(error is LeadershipLost, "\(error)")
        }
        let renewed = await election.renew()
        XCTAssertFalse(renewed, "nothing left to renew after resigning")
        etcd.members[0]!.signal(SIGCONT)
        await resigning.value
    }

    func testStoreURLs() throws {
        let (endpoints, namespace) = try EtcdStore.endpoints(fromURL: "etcd://10.0.0.1:2379,10.0.0.2:2379/prod")
        XCTAssertEqual(endpoints, ["http://10.0.0.1:2379", "http://10.0.0.2:2379"])
        XCTAssertEqual(namespace, "/prod/")
        XCTAssertThrowsError(try EtcdStore.endpoints(fromURL: "etcd://nohostport"))
        XCTAssertThrowsError(try EtcdStore.endpoints(fromURL: "sqlite:x"))
    }

    /// A list longer than a page is read in pages, every key once, and not the keys beside the
    /// prefix (`tasks/` must not list `tasks0`, nor `taskz`).
    func testAListLongerThanAPageIsReadInPages() async throws {
        try await start(1)
        let store = EtcdStore(
            endpoints: etcd.endpoints.map { "http://" + $0 }, namespace: "/t-\(UUID().uuidString.prefix(8))/", listPage: 7)
        let keys = (0..<50).map { "tasks/\($0)" }
        try await store.apply(keys.map { .put($0, Data($0.utf8)) } + [.put("tasks0", Data()), .put("taskz", Data())])
        let listed = try await store.list(prefix: "tasks/")
        XCTAssertEqual(Set(listed.keys), Set(keys))
        XCTAssertTrue(listed.allSatisfy { String(decoding: $0.value, as: UTF8.self) == $0.key })
    }

    /// What a follower's warm copy reads: what changed since a revision (each key once, with the
    /// revision it last changed at), counts at a revision, and a watch that carries deletions only.
    func testChangesSinceARevisionCountsAndAWatchOfDeletions() async throws {
        try await start(1)
        let store = EtcdStore(
            endpoints: etcd.endpoints.map { "http://" + $0 }, namespace: "/t-\(UUID().uuidString.prefix(8))/", listPage: 7)
        try await store.apply((0..<30).map { .put("tasks/\($0)", Data("v0".utf8)) } + [.put("tasks0", Data())])
        let (first, all) = try await store.changed(prefix: "tasks/", since: 0, at: nil)
        XCTAssertEqual(all.count, 30, "since 0: everything, in pages")
        let current = try await store.revision()
        XCTAssertEqual(current, first)
        let seen = Seen()
        let watching = Task {
            try await store.watchDeletions(from: first + 1) { changes in
                for c in changes { seen.add("\(c.key)@\(c.revision)=\(c.value == nil ? "deleted" : "put")") }
            }
        }
        defer { watching.cancel() }
        try await store.put("tasks/3", Data("v1".utf8))
        try await store.put("tasks/3", Data("v2".utf8))
        try await store.apply([.delete("tasks/4"), .put("tasks/30", Data("v1".utf8))])
        let deletedAt = try await store.revision()
        try await store.put("tasks/12", Data("v1".utf8))
        let (second, changed) = try await store.changed(prefix: "tasks/", since: first, at: nil)
        XCTAssertEqual(Set(changed.keys), ["tasks/3", "tasks/12", "tasks/30"], "changed keys once each; deletions are not there")
        XCTAssertEqual(changed["tasks/3"]?.value, Data("v2".utf8))
        XCTAssertEqual(changed["tasks/12"]?.modRevision, second)
        let (_, atEarlier) = try await store.changed(prefix: "tasks/", since: first, at: deletedAt)
        XCTAssertEqual(Set(atEarlier.keys), ["tasks/3", "tasks/30"], "read at an earlier revision")
        let (countNow, countEarlier) = try await (
            store.count(prefix: "tasks/", at: second), store.count(prefix: "tasks/", at: first)
        )
        XCTAssertEqual(countNow, 30)
        XCTAssertEqual(countEarlier, 30)
        try await Eventually.that("the watch delivers the deletion and no put") {
            seen.values == ["tasks/4@\(deletedAt)=deleted"]
        }
    }

    func testAFencedWriterStopsOnceItsFenceKeyChanges() async throws {
        try await start(1)
        let store = EtcdStore(endpoints: etcd.endpoints.map { "http://" + $0 }, namespace: "/f/")
        // The fence: a key whose create revision only the current leader knows.
        try await store.put("leader", Data("a".utf8))
        let revision = try await createRevision(of: "/f/leader")
        await store.setFence(EtcdStore.Fence(key: "/f/leader", createRevision: revision))
        try await store.put("apps/x", Data("1".utf8))
        // Another replica takes over: the key is deleted and created again.
        let other = EtcdStore(endpoints: etcd.endpoints.map { "http://" + $0 }, namespace: "/f/")
        try await other.delete("leader")
        try await other.put("leader", Data("b".utf8))
        do {
            try await store.put("apps/x", Data("2".utf8))
            XCTFail("a deposed writer wrote")
        } catch {
            XCTAssertTrue("\(error)".contains("no longer holds leadership"), "\(error)")
        }
        let value = try await other.get("apps/x")
        XCTAssertEqual(value, Data("1".utf8))
    }

    func testLosingOneMemberOfThreeLosesNothing() async throws {
        try await start(3)
        let store = EtcdStore(endpoints: etcd.endpoints.map { "http://" + $0 }, namespace: "/q/")
        for i in 0..<20 { try await store.put("k\(i)", Data("\(i)".utf8)) }
        etcd.kill9(0)  // the member the store was talking to
        for i in 20..<40 { try await store.put("k\(i)", Data("\(i)".utf8)) }
        let all = try await store.list(prefix: "k")
        XCTAssertEqual(all.count, 40, "every acknowledged write is there after a member died")
    }

    func testNoMemberAnsweringIsAClearError() async throws {
        let store = EtcdStore(endpoints: ["http://127.0.0.1:1"], timeout: .seconds(1))
        do {
            _ = try await store.get("x")
            XCTFail("no error")
        } catch {
            XCTAssertTrue("\(error)".contains("no etcd member answered"), "\(error)")
        }
    }

    func createRevision(of key: String) async throws -> Int64 {
        struct R: Decodable {
            struct KV: Decodable { var create_revision: String }
            var kvs: [KV]
        }
        let body = try JSONSerialization.data(withJSONObject: ["key": Data(key.utf8).base64EncodedString()])
        let r = try await HTTPTransport().expectOK(.POST, "http://\(etcd.endpoints[0])/v3/kv/range", body: body)
        return Int64(try JSONDecoder().decode(R.self, from: r.body).kvs[0].create_revision)!
    }
}

/// What a watch reported, in order.
private final class Seen: Sendable {
    private let list = Mutex<[String?]>([])
    func add(_ value: String?) { list.withLock { $0.append(value) } }
    var values: [String?] { list.withLock { $0 } }
}
