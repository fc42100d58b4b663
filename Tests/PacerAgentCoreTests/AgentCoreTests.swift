import Foundation
import PacerAgentCore
import PacerModel
import XCTest

final class AgentCoreTests: XCTestCase {
    func task(_ id: String, ports: [PortRange] = [], grace: Double? = nil) -> TaskInfo {
        TaskInfo(
            taskId: id, name: id, agentId: "a1", resources: Resources(cpus: 0.1, mem: 10, ports: ports),
            command: CommandInfo(shell: true, value: "sleep 100", arguments: nil, environment: [:]),
            killGracePeriodSeconds: grace)
    }
    func sent(_ ds: [AgentDirective]) -> [TaskStatus] {
        ds.flatMap { d -> [TaskStatus] in
            if case .send(let s) = d { return s }
            return []
        }
    }
    func ack(_ s: TaskStatus) -> Acknowledgement { Acknowledgement(agentId: "a1", taskId: s.taskId, uuid: s.uuid!) }

    /// An agent with `t1` running (pid 100) and its STARTING update in flight.
    func running() -> (AgentCore, TaskStatus) {
        var core = AgentCore(agentId: "a1", idPrefix: "x")
        XCTAssertEqual(core.onLaunch(frameworkId: "f", [task("t1", grace: 2)], now: 0), [.spawn([task("t1", grace: 2)])])
        let ds = core.onSpawned([("t1", .success(100))], now: 0)
        XCTAssertEqual(ds.first, .checkpoint, "the checkpoint is written before anything is sent")
        return (core, sent(ds)[0])
    }

    func testUpdatesGoOutInOrderOneAtATimePerTask() {
        var (core, starting) = running()
        XCTAssertEqual(starting.state, .starting)
        XCTAssertTrue(sent(core.onTick(now: 1)).isEmpty)  // head in flight, not yet due again
        let next = sent(core.onAcknowledged([ack(starting)], now: 1))
        XCTAssertEqual(next.map(\.state), [.running])
        XCTAssertTrue(core.onAcknowledged([ack(starting)], now: 1).isEmpty, "a duplicate ack changes nothing")
    }

    func testUnacknowledgedUpdatesAreResentWithBackoff() {
        var (core, starting) = running()
        XCTAssertTrue(sent(core.onTick(now: 9)).isEmpty)  // not before 10 s, as Mesos's agent
        XCTAssertEqual(sent(core.onTick(now: 10)).map(\.uuid), [starting.uuid])  // after 10 s
        XCTAssertTrue(sent(core.onTick(now: 29)).isEmpty)  // now waits 20 s
        XCTAssertEqual(sent(core.onTick(now: 30)).map(\.uuid), [starting.uuid])
        XCTAssertTrue(sent(core.onTick(now: 59)).isEmpty)
        XCTAssertEqual(sent(core.onTick(now: 60)).map(\.uuid), [starting.uuid])  // capped at 30 s
        XCTAssertEqual(sent(core.onTick(now: 90)).map(\.uuid), [starting.uuid])
        XCTAssertEqual(sent(core.onRegistered(now: 91)).map(\.uuid), [starting.uuid], "re-registration resends at once")
    }

    func testKillSendsTermThenKillAfterGraceAndReportsKilled() {
        var (core, starting) = running()
        _ = core.onAcknowledged([ack(starting)], now: 0)
        let ds = core.onKill(taskId: "t1", frameworkId: "f", now: 10)
        XCTAssertTrue(ds.contains(.signal(taskId: "t1", pid: 100, signal: AgentCore.sigterm)))
        XCTAssertFalse(core.onTick(now: 11).contains(.signal(taskId: "t1", pid: 100, signal: AgentCore.sigkill)))
        XCTAssertTrue(core.onTick(now: 12.1).contains(.signal(taskId: "t1", pid: 100, signal: AgentCore.sigkill)))
        _ = core.onExited(taskId: "t1", .signaled(9), now: 12.2)
        let queued = core.state.pending["t1"]!.map(\.status.state)
        XCTAssertEqual(queued, [.running, .killing, .killed])
    }

    func testExitStatusesMapToStatesWithMessages() {
        for (status, state, message) in [
            (ExitStatus.exited(0), TaskState.finished, "status 0"),
            (.exited(3), .failed, "status 3"), (.signaled(9), .failed, "Killed (9)")
        ] {
            var (core, _) = running()
            _ = core.onExited(taskId: "t1", status, now: 1)
            let last = core.state.pending["t1"]!.last!.status
            XCTAssertEqual(last.state, state)
            XCTAssertTrue(last.message?.contains(message) ?? false, "\(last.message ?? "")")
        }
    }

    func testTerminalTaskLeavesOnlyAfterItsLastUpdateIsAcknowledged() {
        var (core, starting) = running()
        _ = core.onExited(taskId: "t1", .exited(1), now: 1)
        var head = starting
        while core.tasks["t1"] != nil {
            let next = sent(core.onAcknowledged([ack(head)], now: 2))
            if let n = next.first { head = n } else { break }
        }
        XCTAssertNil(core.tasks["t1"])
        XCTAssertNil(core.state.pending["t1"])
    }

    func testPortClashFailsTheTaskClearly() {
        var (core, _) = running()
        _ = core.onLaunch(frameworkId: "f", [task("p1", ports: [PortRange(31000, 31000)])], now: 0)
        _ = core.onSpawned([("p1", .success(101))], now: 0)
        let ds = core.onLaunch(frameworkId: "f", [task("p2", ports: [PortRange(31000, 31001)])], now: 1)
        XCTAssertFalse(
            ds.contains {
                if case .spawn = $0 { return true }
                return false
            })
        XCTAssertEqual(core.state.pending["p2"]?.first?.status.state, .failed)
        XCTAssertTrue(core.state.pending["p2"]?.first?.status.message?.contains("31000") ?? false)
    }

    func testDuplicateLaunchIsIgnoredAndSpawnFailureIsReported() {
        var (core, _) = running()
        XCTAssertEqual(core.onLaunch(frameworkId: "f", [task("t1")], now: 1), [])
        _ = core.onLaunch(frameworkId: "f", [task("t2")], now: 1)
        _ = core.onSpawned([("t2", .failure(SpawnError("no such file")))], now: 1)
        XCTAssertEqual(core.state.pending["t2"]?.first?.status.state, .failed)
    }

    /// Ticks skip their look at every update and kill until one can be due (`resendsDueAt`,
    /// `escalationsDueAt`): nothing that becomes due earlier may wait for that.
    func testWhatBecomesDueEarlierThanTheNextResendGoesAtOnce() {
        var (core, starting) = running()  // STARTING sent at 0: its resend is due at 10
        XCTAssertTrue(sent(core.onTick(now: 4)).isEmpty)
        // Another task's first update does not wait for t1's resend.
        _ = core.onLaunch(frameworkId: "f", [task("t2", grace: 5)], now: 5)
        XCTAssertEqual(sent(core.onSpawned([("t2", .success(200))], now: 5)).map(\.taskId), ["t2"])
        XCTAssertEqual(sent(core.onTick(now: 10)).map(\.uuid), [starting.uuid])
        // Two kills with their own grace periods (2 s and 5 s): each SIGKILL at its time.
        _ = core.onAcknowledged(core.state.pending.values.compactMap { $0.first.map { ack($0.status) } }, now: 11)
        _ = core.onKill(taskId: "t1", frameworkId: "f", now: 20)
        _ = core.onKill(taskId: "t2", frameworkId: "f", now: 21)
        func killed(_ ds: [AgentDirective]) -> [String] {
            ds.compactMap { if case .signal(let id, _, AgentCore.sigkill) = $0 { id } else { nil } }
        }
        XCTAssertEqual(killed(core.onTick(now: 21.5)), [])
        XCTAssertEqual(killed(core.onTick(now: 22)), ["t1"])
        XCTAssertEqual(killed(core.onTick(now: 25)), [])
        XCTAssertEqual(killed(core.onTick(now: 26)), ["t2"])
        XCTAssertEqual(killed(core.onTick(now: 40)), [], "a forced kill is not repeated")
    }

    func testARestoredAgentEscalatesAKillWhoseGraceRanOutWhileItWasDown() {
        var (core, starting) = running()
        _ = core.onAcknowledged([ack(starting)], now: 0)
        _ = core.onKill(taskId: "t1", frameworkId: "f", now: 10)
        var restored = AgentCore(agentId: "a1", idPrefix: "y", restoring: core.state)
        XCTAssertTrue(restored.onTick(now: 30).contains(.signal(taskId: "t1", pid: 100, signal: AgentCore.sigkill)))
    }

    func testRecoveryReportsTasksThatDiedWhileTheAgentWasDown() {
        let (core, _) = running()
        var restored = AgentCore(agentId: "a1", idPrefix: "y", restoring: core.state)
        restored.onRecovered(taskId: "t1", exit: nil, now: 5)
        XCTAssertEqual(restored.state.pending["t1"]?.last?.status.state, .failed)
        XCTAssertEqual(restored.state.pending["t1"]?.last?.status.reason, "REASON_EXECUTOR_TERMINATED")
        XCTAssertEqual(restored.runningTasks.count, 1)
        // New uuids never collide with the old boot's.
        XCTAssertTrue(restored.state.pending["t1"]!.last!.status.uuid!.hasPrefix("y-"))
    }

    func testRecoveryReportsTheRecordedExitStatus() {
        let (core, _) = running()
        var restored = AgentCore(agentId: "a1", idPrefix: "y", restoring: core.state)
        restored.onRecovered(taskId: "t1", exit: .exited(3), now: 5)
        let last = restored.state.pending["t1"]?.last?.status
        XCTAssertEqual(last?.state, .failed)
        XCTAssertEqual(last?.message, "Command exited with status 3")
        let updates = restored.state.pending["t1"]?.count
        restored.onRecovered(taskId: "t1", exit: .exited(0), now: 6)
        XCTAssertEqual(restored.state.pending["t1"]?.count, updates, "an ended task is not reported again")
    }

    /// A KILL naming several tasks (`KILL_MANY`): one checkpoint, a SIGTERM each, and all their
    /// updates in one send, so the master gets one UPDATE call for them.
    func testOneKillOfSeveralTasksCheckpointsOnceAndSendsTheirUpdatesTogether() {
        var core = AgentCore(agentId: "a1", idPrefix: "x")
        _ = core.onLaunch(frameworkId: "f", [task("t1"), task("t2"), task("t3")], now: 0)
        _ = core.onSpawned([("t1", .success(100)), ("t2", .success(101))], now: 0)
        for _ in 0..<3 {
            _ = core.onAcknowledged(core.state.pending.values.compactMap { $0.first.map { ack($0.status) } }, now: 0)
        }
        XCTAssertTrue(core.state.pending.isEmpty)
        let orders = ["t1", "t2", "t3", "ghost"].map { AgentMessage.Kill(taskId: $0, frameworkId: "f") }
        let ds = core.onKill(orders, now: 10)
        XCTAssertEqual(ds.filter { $0 == .checkpoint }.count, 1)
        XCTAssertEqual(ds.first, .checkpoint, "the checkpoint is written before anything is sent")
        XCTAssertEqual(
            ds.filter { if case .signal = $0 { true } else { false } },
            [
                .signal(taskId: "t1", pid: 100, signal: AgentCore.sigterm),
                .signal(taskId: "t2", pid: 101, signal: AgentCore.sigterm)
            ])
        let sends = ds.filter { if case .send = $0 { true } else { false } }
        XCTAssertEqual(sends.count, 1)
        XCTAssertEqual(
            sent(sends).map { "\($0.taskId) \($0.state.rawValue)" },
            ["ghost TASK_LOST", "t1 TASK_KILLING", "t2 TASK_KILLING", "t3 TASK_KILLED"])
        XCTAssertEqual(core.onKill(orders.dropLast(), now: 11), [], "asked again: the first kills go on")
    }

    func testKillOfAnUnknownTaskAnswersLost() {
        var core = AgentCore(agentId: "a1", idPrefix: "x")
        XCTAssertEqual(sent(core.onKill(taskId: "ghost", frameworkId: "f", now: 0)).map(\.state), [.lost])
    }
}

extension AgentCoreTests {
    func testCheckpointEncodesInEveryStateItCanReach() throws {
        var (core, starting) = running()
        _ = core.onAcknowledged([ack(starting)], now: 0)
        _ = core.onKill(taskId: "t1", frameworkId: "f", now: 1)
        _ = core.onTick(now: 10)  // SIGKILL sent
        let data = try JSONEncoder().encode(core.state)
        XCTAssertEqual(try JSONDecoder().decode(AgentCheckpoint.self, from: data), core.state)
        XCTAssertFalse(
            core.onTick(now: 20).contains(.signal(taskId: "t1", pid: 100, signal: AgentCore.sigkill)), "SIGKILL goes out once")
    }

    func testTheKillMovesBeforeStartOrTermThenForcedOnly() {
        var (core, starting) = running()
        _ = core.onAcknowledged([ack(starting)], now: 0)
        _ = core.onKill(taskId: "t1", frameworkId: "f", reason: "REASON_PREEMPTED", message: "preempted", now: 1)
        let order = KillOrder(askedAt: 1, reason: "REASON_PREEMPTED", message: "preempted")
        XCTAssertEqual(core.state.tasks["t1"]?.kill, .terminating(order, termSentAt: 1))
        XCTAssertEqual(core.onKill(taskId: "t1", frameworkId: "f", now: 2), [], "asked twice: the first kill goes on")
        _ = core.onTick(now: 3.5)
        XCTAssertEqual(core.state.tasks["t1"]?.kill, .forced(order, termSentAt: 1))
        _ = core.onExited(taskId: "t1", .signaled(9), now: 4)
        let last = core.state.pending["t1"]!.last!.status
        XCTAssertEqual(last.state, .killed)
        XCTAssertEqual(last.message, "preempted", "the master's reason, not the signal")

        var early = AgentCore(agentId: "a1", idPrefix: "x")
        _ = early.onLaunch(frameworkId: "f", [task("t2")], now: 0)
        _ = early.onKill(taskId: "t2", frameworkId: "f", now: 1)
        XCTAssertEqual(early.state.tasks["t2"]?.kill, .beforeStart(KillOrder(askedAt: 1, reason: nil, message: nil)))
        XCTAssertEqual(early.state.tasks["t2"]?.state, .killed)
    }

    /// Checkpoints written before the kill became one value keep their meaning (an agent upgraded
    /// in place recovers them), and new ones are written with the same fields.
    func testCheckpointFieldsOfEarlierVersionsStillRead() throws {
        let info = try String(decoding: JSONEncoder().encode(task("t1", grace: 2)), as: UTF8.self)
        func decode(_ extra: String) throws -> AgentTask {
            let json = #"{"info":\#(info),"frameworkId":"f","state":"TASK_KILLING","pid":100\#(extra)}"#
            return try JSONDecoder().decode(AgentTask.self, from: Data(json.utf8))
        }
        XCTAssertNil(try decode("").kill)
        let order = KillOrder(askedAt: 5, reason: "R", message: "M")
        let terminating = try decode(#","killRequestedAt":5,"termSentAt":6,"killReason":"R","killMessage":"M""#)
        XCTAssertEqual(terminating.kill, .terminating(order, termSentAt: 6))
        let forced = try decode(#","killRequestedAt":5,"termSentAt":6,"killSent":true,"killReason":"R","killMessage":"M""#)
        XCTAssertEqual(forced.kill, .forced(order, termSentAt: 6))
        XCTAssertEqual(
            try decode(#","killRequestedAt":5"#).kill, .beforeStart(KillOrder(askedAt: 5, reason: nil, message: nil)))
        let written = try JSONSerialization.jsonObject(with: JSONEncoder().encode(forced)) as? [String: Any]
        XCTAssertEqual(written?["killRequestedAt"] as? Double, 5)
        XCTAssertEqual(written?["termSentAt"] as? Double, 6)
        XCTAssertEqual(written?["killSent"] as? Bool, true)
        XCTAssertEqual(written?["killReason"] as? String, "R")
    }
}
