import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// kill -9 of any one process loses no app, no task, and launches no duplicate.
final class CrashTests: ClusterTestCase {
    func testFrameworkKill9AndRestartKeepsTasksWithoutDuplicates() async throws {
        _ = try await post(sleeper("/keep", instances: 3))
        let before = try await waitRunning("/keep", 3)
        let pids = try await cluster.taskPids()
        cluster.framework.kill9()
        try cluster.startFramework()
        try await cluster.ready()
        let after = try await waitRunning("/keep", 3)
        XCTAssertEqual(Set(after.map(\.id)), Set(before.map(\.id)), "same tasks after the restart")
        try await Task.sleep(for: .seconds(2))  // time for any wrong launch to show up
        let state = try await cluster.masterState()
        XCTAssertEqual(state.agents[0].tasks.count, 3, "no duplicate launched")
        let pidsAfter = try await cluster.taskPids()
        XCTAssertEqual(pidsAfter, pids, "no task was restarted")
    }

    func testAgentKill9AndRestartKeepsTasksRunning() async throws {
        _ = try await post(sleeper("/steady", instances: 2))
        let before = try await waitRunning("/steady", 2)
        let pids = try await cluster.taskPids()
        cluster.agent.kill9()
        for pid in pids.values { XCTAssertEqual(kill(pid, 0), 0, "task \(pid) survives its agent") }
        try cluster.startAgent()
        try await Eventually.that("agent back with its tasks") { try await self.cluster.taskPids() == pids }
        try await Task.sleep(for: .seconds(2))
        let after = try await waitRunning("/steady", 2)
        XCTAssertEqual(Set(after.map(\.id)), Set(before.map(\.id)))
        // A task that dies now is still noticed, though it is not the restarted agent's child.
        kill(pids[before[0].id]!, SIGKILL)
        try await Eventually.that("replaced", within: 15) {
            let tasks = try await self.client.tasks(app: self.id("/steady"))
            return tasks.count == 2 && !tasks.contains { $0.id == before[0].id }
                && tasks.allSatisfy { $0.state == "TASK_RUNNING" }
        }
    }

    /// F7: every write acknowledged before a kill -9 is there after the restart.
    func testAcknowledgedWritesSurviveKill9DuringABurst() async throws {
        let client = self.client
        let acked = AckedIds()
        let writer = Task {
            for i in 0..<10_000 {
                let body = #"{"id":"/burst/a\#(i)","cmd":"sleep 1","instances":0,"cpus":0.01,"mem":8}"#
                guard let r = try? await client.raw("POST", "/v2/apps", body: Data(body.utf8)) else { return }
                if r.status == 201 { await acked.add("/burst/a\(i)") }
            }
        }
        try await Eventually.that("some writes acknowledged") { await acked.count >= 20 }
        cluster.framework.kill9()
        writer.cancel()
        _ = await writer.result
        try cluster.startFramework()
        try await cluster.ready()
        let stored = Set(try await client.apps().map(\.app.id.description))
        let missing = await acked.ids.subtracting(stored)
        XCTAssertEqual(missing, [], "acknowledged but lost")
    }
}

actor AckedIds {
    var ids: Set<String> = []
    func add(_ id: String) { ids.insert(id) }
    var count: Int { ids.count }
}

extension CrashTests {
    /// A deployment that cannot finish yet is still there, under the same id, after the framework is killed.
    func testDeploymentSurvivesAFrameworkCrashWithItsId() async throws {
        let r = try await post(sleeper("/stuck", instances: 1, extra: #","constraints":[["hostname","LIKE","nowhere"]]"#))
        XCTAssertEqual(r.status, 201, r.text)
        let before = try await client.deployments()
        XCTAssertEqual(before.count, 1)
        cluster.framework.kill9()
        try cluster.startFramework()
        try await cluster.ready()
        let after = try await client.deployments()
        XCTAssertEqual(after.map(\.id), before.map(\.id))
        _ = try await client.remove(id("/stuck"), force: true)
        try await Eventually.that("deployment of the removal finishes") { try await self.client.deployments().isEmpty }
    }
}

extension CrashTests {
    /// A task that ends while its agent is down is reported, once the agent is back, with the exit
    /// status it really had: its keeper outlived the agent and wrote it down.
    func testATaskThatExitedWhileTheAgentWasDownIsReportedWithItsExitStatus() async throws {
        let spec =
            #"{"id":"/quits","cmd":"trap 'exit 3' USR1; echo trapped; while true; do sleep 0.1; done","instances":1,"cpus":0.01,"mem":16}"#
        _ = try await post(spec)
        let task = try await waitRunning("/quits", 1)[0]
        // RUNNING comes with the spawn; the signal must wait for the shell's trap.
        let stdout = "\(cluster.dir)/agent-\(cluster.agentPort)/sandboxes/\(task.id)/stdout"
        try await Eventually.that("the trap is set") {
            (try? String(contentsOfFile: stdout, encoding: .utf8))?.contains("trapped") == true
        }
        let pids = try await cluster.taskPids()
        let pid = try XCTUnwrap(pids[task.id])
        cluster.agent.kill9()
        // The keeper shares the task's process group and ignores USR1; the task's trap exits 3.
        XCTAssertEqual(kill(-pid, SIGUSR1), 0)
        try await Eventually.that("the task and its keeper are gone") { kill(pid, 0) != 0 }
        try cluster.startAgent()
        let client = self.client
        let failure = try await Eventually.value("failure reported", within: 15) {
            let r = try await client.raw("GET", "/v2/apps/quits")
            return r.text.contains("lastTaskFailure") ? r.text : nil
        }
        XCTAssertTrue(failure.contains("Command exited with status 3"), failure)
        XCTAssertTrue(failure.contains("TASK_FAILED"), failure)
        XCTAssertTrue(failure.contains(task.id), failure)
    }
}

/// F13: the framework dies (SIGKILL at a failpoint) between storing a launch's intent and asking
/// the master for it, and between asking and hearing the task run. After a restart every task the
/// agent runs maps to a stored instance, the count is exact, and nothing is launched twice.
extension CrashTests {
    /// `launched`: whether the master accepted the launch before the crash. The master answers the
    /// ACCEPT before the agent has started the task, so the task is waited for, not sampled.
    func crashAt(_ failpoint: String, app: String, launched: Bool) async throws -> Set<String> {
        cluster.framework.stop()
        try cluster.startFramework(environment: ["PACER_FAILPOINTS": failpoint])
        try await cluster.ready()
        // The answer may not make it out: the launch can race the response (the app is stored first).
        _ = try? await post(sleeper(app, instances: 2))
        let framework = cluster.framework!
        try await Eventually.that("the framework dies at \(failpoint)", within: 15) { !framework.isRunning }
        XCTAssertTrue(framework.log.contains("failpoint \(failpoint) reached"), framework.log)
        let agents = self.cluster!
        let atCrash: Set<String>
        if launched {
            atCrash = try await Eventually.value("the accepted launch reaches the agent", within: 10) {
                let running = Set(try await agents.taskPids().keys)
                return running.isEmpty ? nil : running
            }
        } else {
            try await Task.sleep(for: .seconds(1))  // time for a launch that should not exist to show
            atCrash = Set(try await cluster.taskPids().keys)
        }
        try cluster.startFramework()
        try await cluster.ready()
        let after = try await waitRunning(app, 2, within: 20)
        try await Task.sleep(for: .seconds(2))  // time for a wrong launch or kill to show
        let onAgent = Set(try await cluster.taskPids().keys)
        let known = Set(try await client.tasks(app: id(app)).map(\.id))
        XCTAssertEqual(onAgent, known, "every task the agent runs is a stored instance, and the other way round")
        XCTAssertEqual(known, Set(after.map(\.id)))
        XCTAssertEqual(known.count, 2)
        return atCrash
    }

    func testF13CrashBetweenStoringTheIntentAndLaunchingReplacesTheUnlaunched() async throws {
        let atCrash = try await crashAt("launch.intent-persisted", app: "/intent", launched: false)
        XCTAssertEqual(atCrash, [], "nothing was launched before the crash")
    }

    func testF13CrashBetweenLaunchingAndRecordingAdoptsTheLaunched() async throws {
        let atCrash = try await crashAt("launch.accepted", app: "/adopt", launched: true)
        let kept = Set(try await client.tasks(app: id("/adopt")).map(\.id))
        XCTAssertTrue(atCrash.isSubset(of: kept), "the launched tasks were adopted, not replaced")
    }
}

/// F9: an agent gone for longer than its recovery timeout: the master has its tasks unreachable and
/// the framework replaces them; the orphaned tasks stop by themselves (their keepers see the agent's
/// heartbeat go stale), so a host whose agent never returns does not keep running old copies.
final class OrphanTests: ClusterTestCase {
    override var agentTimeout: Double { 2 }
    override var agentArguments: [String] { ["--recovery-timeout", "3"] }

    func testOrphanedTasksStopAfterTheRecoveryTimeout() async throws {
        _ = try await post(
            sleeper(
                "/orphan", instances: 1, extra: #","unreachableStrategy":{"inactiveAfterSeconds":1,"expungeAfterSeconds":3600}"#))
        let task = try await waitRunning("/orphan", 1)[0]
        let pids = try await cluster.taskPids()
        let pid = try XCTUnwrap(pids[task.id])
        cluster.agent.kill9()
        let killedAt = Date()
        try await Eventually.that("the framework sees it unreachable", within: 10) {
            try await self.client.tasks(app: self.id("/orphan")).first { $0.id == task.id }?.state == "TASK_UNREACHABLE"
        }
        try await Eventually.that("the orphan stops by itself", within: 15) { kill(pid, 0) != 0 }
        let stoppedAfter = Date().timeIntervalSince(killedAt)
        XCTAssertGreaterThanOrEqual(stoppedAfter, 3, "not before the recovery timeout")
        try cluster.startAgent()
        let replaced = try await waitRunning("/orphan", 1, within: 20)
        XCTAssertNotEqual(replaced[0].id, task.id)
        let failure = try await Eventually.value("the end is reported", within: 10) { () -> TaskFailure? in
            try await self.client.app(self.id("/orphan")).lastTaskFailure
        }
        XCTAssertEqual(failure.taskId, task.id)
        XCTAssertTrue(failure.message.contains("recovery timeout"), failure.message)
        print("F9: orphaned task stopped \(stoppedAfter) s after its agent died (recovery timeout 3 s); replaced")
    }
}

/// A machine wiped while its agent is down (or a cluster torn down around a dead agent): the
/// agent's state directory, and with it the heartbeat file each keeper holds open, is gone, so no
/// agent can ever adopt the tasks. Their keepers stop them within one check (5 s), not after the
/// recovery timeout (900 s by default), so nothing runs on unaccounted for.
final class WipedAgentTests: ClusterTestCase {
    func testKeepersStopTheirTasksOnceTheAgentsStateIsRemoved() async throws {
        _ = try await post(sleeper("/wiped", instances: 1))
        let task = try await waitRunning("/wiped", 1)[0]
        let pids = try await cluster.taskPids()
        let pid = try XCTUnwrap(pids[task.id])
        cluster.agent.kill9()
        try await Task.sleep(for: .seconds(6))  // a keeper check or more, with the state still there
        XCTAssertEqual(kill(pid, 0), 0, "a dead agent alone does not stop its tasks before the recovery timeout")
        try FileManager.default.removeItem(atPath: "\(cluster.dir)/agent-\(cluster.agentPort)")
        try await Eventually.that("the task stops with its state gone", within: 15) { kill(pid, 0) != 0 }
    }
}
