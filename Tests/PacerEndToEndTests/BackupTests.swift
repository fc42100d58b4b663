import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// Back up a running framework, lose its store, restore it: the same apps, and the same tasks
/// adopted — not one restarted.
final class BackupTests: ClusterTestCase {

    func testBackUpWipeRestoreAdoptsTheSameTasks() async throws {
        _ = try await post(sleeper("/kept", instances: 2))
        let before = try await waitRunning("/kept", 2)
        let pids = try await cluster.taskPids()
        let backup = cluster.dir + "/framework-backup.json"
        let taken = try PacerProcess.runToEnd(["framework", "backup", backup, "--state-dir", cluster.dir])
        XCTAssertEqual(taken.status, 0, taken.output)

        cluster.framework.stop()
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: cluster.dir + "/framework.sqlite" + suffix)
        }
        let restored = try PacerProcess.runToEnd(["framework", "restore", backup, "--state-dir", cluster.dir])
        XCTAssertEqual(restored.status, 0, restored.output)
        let again = try PacerProcess.runToEnd(["framework", "restore", backup, "--state-dir", cluster.dir])
        XCTAssertNotEqual(again.status, 0, "a restore never overwrites a store with state")
        XCTAssertTrue(again.output.contains("restore only into an empty store"), again.output)

        try cluster.startFramework()
        try await cluster.ready()
        let after = try await waitRunning("/kept", 2)
        XCTAssertEqual(Set(after.map(\.id)), Set(before.map(\.id)), "the same tasks, adopted")
        XCTAssertEqual(
            after.map(\.startedAt).sorted { ($0 ?? "") < ($1 ?? "") }, before.map(\.startedAt).sorted { ($0 ?? "") < ($1 ?? "") })
        let pidsAfter = try await cluster.taskPids()
        XCTAssertEqual(pidsAfter, pids, "no task process was restarted")
        let app = try await client.app(id("/kept"))
        XCTAssertEqual(app.app.instances, 2)
        XCTAssertEqual(app.tasksRunning, 2)
    }

    func testTheMastersPolicyRoundTrips() async throws {
        let transport = HTTPTransport()
        let weight = try await transport.send(
            .PUT, cluster.masterURL + "/master/weights", body: Data(#"[{"role": "batch", "weight": 3}]"#.utf8))
        XCTAssertTrue((200..<300).contains(Int(weight.status)), weight.text)
        let backup = cluster.dir + "/master-backup.json"
        let taken = try PacerProcess.runToEnd(["master", "backup", backup, "--state-dir", cluster.dir])
        XCTAssertEqual(taken.status, 0, taken.output)
        let fresh = cluster.dir + "/fresh"
        let restored = try PacerProcess.runToEnd(["master", "restore", backup, "--state-dir", fresh])
        XCTAssertEqual(restored.status, 0, restored.output)
        let written = try String(contentsOfFile: fresh + "/master/master-policy.json", encoding: .utf8)
        XCTAssertTrue(written.contains("\"batch\""), written)
        let twice = try PacerProcess.runToEnd(["master", "restore", backup, "--state-dir", fresh])
        XCTAssertNotEqual(twice.status, 0, twice.output)
    }
}

/// The store carries its layout version: a fresh store gets the current one, and a framework
/// refuses to lead over a store written by a newer Pacer (midway through a rolling upgrade an old
/// replica must not win the election and misread the new layout).
final class StoreSchemaTests: ClusterTestCase {

    func testAFreshStoreIsStampedAndANewerOneIsRefused() async throws {
        let backup = cluster.dir + "/now.json"
        XCTAssertEqual(try PacerProcess.runToEnd(["framework", "backup", backup, "--state-dir", cluster.dir]).status, 0)
        let snapshot = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: backup))) as? [String: Any]
        let stamp = (snapshot?["entries"] as? [String: String])?["schema/version"].flatMap { Data(base64Encoded: $0) }
        XCTAssertEqual(stamp.map { String(decoding: $0, as: UTF8.self) }, "1")

        let newer = cluster.dir + "/newer.json"
        let nine = Data("99".utf8).base64EncodedString()
        try #"{"format":"pacer-store-snapshot/1","takenAt":"2030-01-01T00:00:00Z","entries":{"schema/version":"\#(nine)"}}"#
            .write(toFile: newer, atomically: true, encoding: .utf8)
        let state = cluster.dir + "/future"
        XCTAssertEqual(try PacerProcess.runToEnd(["framework", "restore", newer, "--state-dir", state]).status, 0)
        let port = FreePorts.block(1)
        let old = try PacerProcess(
            name: "old-framework",
            arguments: ["framework", "--port", "\(port)", "--state-dir", state, "--master", cluster.masterURL],
            logDir: cluster.dir)
        defer { old.stop(grace: 2) }
        try await Eventually.that("the framework stops instead of leading", within: 10) { !old.isRunning }
        XCTAssertTrue(old.log.contains("written by a newer Pacer (store schema 99"), old.log)
    }
}
