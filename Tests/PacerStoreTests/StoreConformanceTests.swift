import Foundation
import PacerStore
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

    func testGarbageFileIsRefusedWithAClearError() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/bad.sqlite", contents: Data(repeating: 0x5A, count: 8192))
        XCTAssertThrowsError(try SQLiteStore(path: dir + "/bad.sqlite")) { error in
            XCTAssertTrue("\(error)".contains("bad.sqlite"), "\(error)")
        }
    }
}
