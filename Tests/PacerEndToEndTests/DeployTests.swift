import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

final class DeployTests: ClusterTestCase {
    /// The README walkthrough: hello.json runs, and every task answers HTTP on its host port.
    func testHelloAppRunsAndEveryTaskAnswersHTTP() async throws {
        let spec = try String(
            contentsOfFile: #filePath.replacingOccurrences(
                of: "Tests/PacerEndToEndTests/DeployTests.swift", with: "apps/hello.json"), encoding: .utf8)
        let created = try await post(spec)
        XCTAssertEqual(created.status, 201, created.text)
        let tasks = try await waitRunning("/hello", 2, within: 10)
        // RUNNING means the process started, not that it listens yet (the app has no health check):
        // python's server took longer than the first request to bind on a slow CI machine.
        for t in tasks {
            try await Eventually.that("\(t.id) answers HTTP") {
                (try? await HTTPTransport().send(.GET, "http://\(t.host):\(t.ports[0])/"))?.status == 200
            }
        }
        let app = try await client.app(id("/hello"))
        XCTAssertEqual(app.tasksRunning, 2)
        XCTAssertEqual(app.app.portDefinitions.first?.port, 10000, "a service port was assigned")
        XCTAssertEqual(Set(tasks.map(\.servicePorts)), [[10000]])
        try await Eventually.that("deployment finished") { try await self.client.deployments().isEmpty }
    }

    func testScaleOneFiveTwo() async throws {
        _ = try await post(sleeper("/s", instances: 1))
        try await waitRunning("/s", 1)
        try await client.scale(id("/s"), instances: 5, force: true)
        try await waitRunning("/s", 5)
        try await client.scale(id("/s"), instances: 2, force: true)
        let tasks = try await waitRunning("/s", 2)
        try await Eventually.that("surplus processes gone") { try await self.cluster.taskPids().count == 2 }
        let running = try await cluster.taskPids()
        XCTAssertEqual(Set(running.keys), Set(tasks.map(\.id)))
    }

    func testKilledProcessIsReplacedAndTheFailureIsShown() async throws {
        _ = try await post(sleeper("/victim", instances: 2, extra: #","backoffSeconds":0.1"#))
        let before = try await waitRunning("/victim", 2)
        let pids = try await cluster.taskPids()
        kill(pids[before[0].id]!, SIGKILL)
        let after = try await Eventually.value("replacement running") { () -> [MarathonTask]? in
            let tasks = try await self.client.tasks(app: self.id("/victim"))
            return tasks.count == 2 && tasks.allSatisfy { $0.state == "TASK_RUNNING" }
                && !tasks.contains { $0.id == before[0].id }
                ? tasks : nil
        }
        XCTAssertTrue(after.contains { $0.id == before[1].id }, "the healthy task was left alone")
        let app = try await client.app(id("/victim"))
        XCTAssertEqual(app.lastTaskFailure?.taskId, before[0].id)
        XCTAssertEqual(app.lastTaskFailure?.state, "TASK_FAILED")
    }

    func testKillByAPIWithAndWithoutScale() async throws {
        _ = try await post(sleeper("/k", instances: 3))
        let tasks = try await waitRunning("/k", 3)
        try await client.killTask(id("/k"), taskId: tasks[0].id)
        try await Eventually.that("replaced") {
            let now = try await self.client.tasks(app: self.id("/k"))
            return now.count == 3 && !now.contains { $0.id == tasks[0].id } && now.allSatisfy { $0.state == "TASK_RUNNING" }
        }
        try await client.killTask(id("/k"), taskId: tasks[1].id, scale: true)
        try await waitRunning("/k", 2)
        let instances = try await client.app(id("/k")).app.instances
        XCTAssertEqual(instances, 2)
    }

    /// SIGTERM is ignored here, and the task leaves a grandchild: after the grace period both are gone.
    func testKillEscalatesAfterGraceAndLeavesNoOrphans() async throws {
        let marker = "pacer-orphan-\(UUID().uuidString.prefix(6))"
        let stubborn = "python3 -c 'import signal,time; signal.signal(15, signal.SIG_IGN); time.sleep(3600)' \(marker)"
        let spec =
            #"{"id":"/stubborn","cmd":"\#(stubborn) & exec \#(stubborn)","#
            + #""instances":1,"cpus":0.01,"mem":64,"resourceLimits":{"cpus":"unlimited"},"taskKillGracePeriodSeconds":1}"#
        let r = try await post(spec)
        XCTAssertEqual(r.status, 201, r.text)
        let tasks = try await waitRunning("/stubborn", 1)
        try await Eventually.that("two processes carry the marker") { Self.processes(named: marker) >= 2 }
        let started = Date()
        _ = try await client.remove(id("/stubborn"), force: true)
        try await Eventually.that("no process carries the marker", within: 10) { Self.processes(named: marker) == 0 }
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.9, "SIGKILL came only after the grace period")
        try await Eventually.that("task gone") { try await self.client.tasks().isEmpty }
        _ = tasks
    }

    static func processes(named marker: String) -> Int {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { Int($0) != nil }.filter { pid in
            guard let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: cmd, as: UTF8.self).contains(marker)
        }.count
    }

    func testTasksGetTheirEnvironmentAndSandbox() async throws {
        let spec =
            #"{"id":"/env","cmd":"env > env.txt; pwd > pwd.txt; exec sleep 3600","instances":1,"cpus":0.01,"mem":8,"#
            + #""portDefinitions":[{"port":0,"name":"web"},{"port":0}],"env":{"GREETING":"hi"}}"#
        _ = try await post(spec)
        let task = try await waitRunning("/env", 1)[0]
        let sandbox = "\(cluster.dir)/agent-\(cluster.agentPort)/sandboxes/\(task.id)"
        let env = try await Eventually.value("env.txt written") { () -> String? in
            let s = try? String(contentsOfFile: sandbox + "/env.txt", encoding: .utf8)
            let done = (try? String(contentsOfFile: sandbox + "/pwd.txt", encoding: .utf8))?.hasSuffix("\n") == true
            return s?.contains("PORTS=") == true && done ? s : nil
        }
        for expected in [
            "PORT0=\(task.ports[0])", "PORT1=\(task.ports[1])", "PORT=\(task.ports[0])", "PORT_WEB=\(task.ports[0])",
            "PORTS=\(task.ports[0]),\(task.ports[1])", "HOST=127.0.0.1", "PACER_APP_ID=/env", "PACER_TASK_ID=\(task.id)",
            "MARATHON_APP_ID=/env", "MESOS_TASK_ID=\(task.id)", "GREETING=hi", "MARATHON_APP_VERSION="
        ] {
            XCTAssertTrue(env.contains(expected), "missing \(expected)")
        }
        XCTAssertFalse(env.contains("PACER_BIN"), "the agent's own environment does not leak into tasks")
        XCTAssertTrue(FileManager.default.fileExists(atPath: sandbox + "/stdout"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: sandbox + "/stderr"))
        XCTAssertEqual(
            try String(contentsOfFile: sandbox + "/pwd.txt", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
            sandbox)
    }
}
