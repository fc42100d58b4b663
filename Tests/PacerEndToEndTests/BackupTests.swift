import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// Back up a running framework, lose its store, restore it: the same apps, and the same tasks
/// adopted — not one restarted.
final class BackupTests: ClusterTestCase {
    /// Runs `pacer` to its end: exit status and everything it wrote.
    private func pacer(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: PacerProcess.binary)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testBackUpWipeRestoreAdoptsTheSameTasks() async throws {
        _ = try await post(sleeper("/kept", instances: 2))
        let before = try await waitRunning("/kept", 2)
        let pids = try await cluster.taskPids()
        let backup = cluster.dir + "/framework-backup.json"
        let taken = try pacer(["framework", "backup", backup, "--state-dir", cluster.dir])
        XCTAssertEqual(taken.status, 0, taken.output)

        cluster.framework.stop()
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: cluster.dir + "/framework.sqlite" + suffix)
        }
        let restored = try pacer(["framework", "restore", backup, "--state-dir", cluster.dir])
        XCTAssertEqual(restored.status, 0, restored.output)
        let again = try pacer(["framework", "restore", backup, "--state-dir", cluster.dir])
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
        let taken = try pacer(["master", "backup", backup, "--state-dir", cluster.dir])
        XCTAssertEqual(taken.status, 0, taken.output)
        let fresh = cluster.dir + "/fresh"
        let restored = try pacer(["master", "restore", backup, "--state-dir", fresh])
        XCTAssertEqual(restored.status, 0, restored.output)
        let written = try String(contentsOfFile: fresh + "/master/master-policy.json", encoding: .utf8)
        XCTAssertTrue(written.contains("\"batch\""), written)
        let twice = try pacer(["master", "restore", backup, "--state-dir", fresh])
        XCTAssertNotEqual(twice.status, 0, twice.output)
    }
}
