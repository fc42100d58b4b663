import Foundation
import PacerAppsCore
import PacerModel
import XCTest

final class AppsCoreTests: XCTestCase {
    func core(_ apps: AppDefinition...) throws -> AppsCore {
        var c = AppsCore(apps: [], tasks: [], idPrefix: "p", now: t0)
        for a in apps { _ = try c.putApp(a, now: t0, force: false) }
        return c
    }

    func testPacksAllInstancesIntoOneOfferAndPersistsBeforeAccepting() throws {
        var c = try core(app("/web", instances: 5))
        let ds = c.onOffers([offer("o1")], now: t0)
        guard case .persistTasks(let records) = ds.first else { return XCTFail("records must be persisted first: \(ds)") }
        XCTAssertEqual(records.count, 5)
        XCTAssertEqual(ds.launched.count, 5)
        XCTAssertEqual(Set(ds.launched.flatMap { $0.resources.portList }).count, 5, "each task gets its own host port")
        let env = ds.launched[0].command.environment
        XCTAssertEqual(env["PORT0"], env["PORT"])
        XCTAssertEqual(env["MARATHON_APP_ID"], "/web")
        XCTAssertEqual(env["PACER_TASK_ID"], ds.launched[0].taskId)
        XCTAssertEqual(env["HOST"], "h1")
        // Satisfied: further offers are declined, for long.
        let more = c.onOffers([offer("o2")], now: t0)
        XCTAssertEqual(more, [.decline(offerIds: ["o2"], refuse: .seconds(120))])
    }

    func testOnlyWhatFitsIsLaunched() throws {
        var c = try core(app("/big", instances: 3, cpus: 1.5))
        XCTAssertEqual(c.onOffers([offer("o1", cpus: 4)], now: t0).launched.count, 2)
        let ds = c.onOffers([offer("o2", cpus: 1)], now: t0)
        XCTAssertEqual(ds, [.decline(offerIds: ["o2"], refuse: .seconds(2))], "demand remains: a short refusal")
    }

    func testOffersNothingWaitingCouldUseAreRefusedForLongWhileServicesWait() throws {
        var c = try core(app("/big", instances: 3, cpus: 1.5))
        var revocable = offer("r1", agent: "a2", cpus: 4)
        revocable.revocable = true
        var otherRole = offer("o3", agent: "a3", cpus: 4)
        otherRole.role = "analytics"
        let ds = c.onOffers([offer("o2", cpus: 1), revocable, otherRole], now: t0)
        XCTAssertEqual(
            ds,
            [.decline(offerIds: ["o2"], refuse: .seconds(2)), .decline(offerIds: ["r1", "o3"], refuse: .seconds(120))],
            "a service waits: only an offer a service could take comes back soon")
        XCTAssertFalse(c.wantsRevocable(now: t0), "only services wait")
        var batch = app("/job", instances: 2, cpus: 8)
        batch.kind = .batch
        _ = try c.putApp(batch, now: t0, force: false)
        XCTAssertTrue(c.wantsRevocable(now: t0), "a REVIVE now asks for revocable offers too")
        let again = c.onOffers([revocable], now: t0)
        XCTAssertEqual(again, [.decline(offerIds: ["r1"], refuse: .seconds(2))], "a batch app waits: revocable comes back soon")
    }

    func testConstraintsPlaceTasks() throws {
        var c = try core(app("/u", instances: 3, constraints: [Constraint(field: "hostname", op: .unique)]))
        XCTAssertEqual(c.onOffers([offer("o1", host: "h1")], now: t0).launched.count, 1)
        XCTAssertEqual(c.onOffers([offer("o2", agent: "a2", host: "h2")], now: t0).launched.count, 1)
        XCTAssertEqual(c.onOffers([offer("o3", host: "h1")], now: t0).launched.count, 0)

        func placed(
            _ op: Constraint.Operator, _ value: String?, attributes: [String: String], host: String = "h1",
            existing: [(String, [String: String])] = []
        ) -> Bool {
            let records = existing.enumerated().map { i, e in
                TaskRecord(
                    id: "t\(i)", appId: try! PathId(validating: "/x"), agentId: "a", host: e.0, agentAttributes: e.1,
                    ports: [], servicePorts: [], version: "v", stagedAt: t0.date)
            }
            return ConstraintCheck.accepts(
                [Constraint(field: value == nil && op == .unique ? "hostname" : "rack", op: op, value: value)],
                hostname: host, attributes: attributes, placed: records)
        }
        XCTAssertTrue(placed(.cluster, "r1", attributes: ["rack": "r1"]))
        XCTAssertFalse(placed(.cluster, "r1", attributes: ["rack": "r2"]))
        XCTAssertFalse(placed(.cluster, "r1", attributes: [:]), "a missing attribute never matches CLUSTER")
        XCTAssertTrue(placed(.like, "r[12]", attributes: ["rack": "r2"]))
        XCTAssertFalse(placed(.like, "r[12]", attributes: ["rack": "r3"]))
        XCTAssertFalse(placed(.like, "r", attributes: ["rack": "r1"]), "LIKE matches the whole value")
        XCTAssertTrue(placed(.unlike, "r[12]", attributes: ["rack": "r3"]))
        XCTAssertTrue(placed(.unlike, "r1", attributes: [:]))
        XCTAssertFalse(placed(.maxPer, "2", attributes: ["rack": "r1"], existing: [("h", ["rack": "r1"]), ("h", ["rack": "r1"])]))
        XCTAssertTrue(placed(.maxPer, "2", attributes: ["rack": "r2"], existing: [("h", ["rack": "r1"]), ("h", ["rack": "r1"])]))
        XCTAssertFalse(placed(.groupBy, "2", attributes: ["rack": "r1"], existing: [("h", ["rack": "r1"])]))
        XCTAssertTrue(placed(.groupBy, "2", attributes: ["rack": "r2"], existing: [("h", ["rack": "r1"])]))
        XCTAssertTrue(placed(.groupBy, "2", attributes: ["rack": "r1"], existing: [("h", ["rack": "r1"]), ("h", ["rack": "r2"])]))
    }

    func testFailedTasksAreReplacedWithMarathonBackoff() throws {
        var spec = app("/crash")
        spec.backoffSeconds = 1
        spec.backoffFactor = 2
        spec.maxLaunchDelaySeconds = 5
        var c = try core(spec)
        var now = t0
        var delays: [Double] = []
        for _ in 0..<5 {
            // Launch as soon as the delay allows, then fail.
            var id: String?
            for _ in 0..<100 where id == nil {
                id = c.onOffers([offer("o")], now: now).launched.first?.taskId
                if id == nil { now = now.addingTimeInterval(0.25) }
            }
            _ = c.report([id!], .failed, at: now)
            delays.append(c.delays[spec.id]!.current)
        }
        XCTAssertEqual(delays, [1, 2, 4, 5, 5])
        XCTAssertEqual(c.lastFailure[spec.id]?.state, "TASK_FAILED")
        XCTAssertTrue(c.onOffers([offer("o")], now: now).launched.isEmpty, "still in backoff")
        // A config change resets the delay.
        spec.cmd = "sleep 200"
        _ = try c.putApp(spec, now: now, force: true)
        XCTAssertNil(c.delays[spec.id])
        XCTAssertEqual(c.onOffers([offer("o")], now: now).launched.count, 1)
    }

    func testKilledTasksAreReplacedWithoutBackoffAndScaleKillsDoNotReplace() throws {
        var c = try core(app("/web", instances: 2))
        let ids = c.onOffers([offer("o1")], now: t0).launched.map(\.taskId)
        _ = c.report(ids, .running, at: t0)
        let (_, _, kill) = c.killTasks([ids[0]], scale: false, now: t0)
        XCTAssertEqual(kill.killed, [ids[0]])
        _ = c.report([ids[0]], .killed, at: t0)
        XCTAssertNil(c.delays[try PathId(validating: "/web")])
        XCTAssertEqual(c.onOffers([offer("o2")], now: t0).launched.count, 1)
        let (_, deployment, scaled) = c.killTasks([ids[1]], scale: true, now: t0)
        XCTAssertNotNil(deployment)
        XCTAssertEqual(scaled.killed, [ids[1]])
        XCTAssertEqual(c.apps[try PathId(validating: "/web")]?.instances, 1)
    }

    func testScaleDownKillsYoungestFirstAndNotRunningFirst() throws {
        var spec = app("/web", instances: 3)
        var c = try core(spec)
        var ids: [String] = []
        for i in 0..<3 {
            ids += c.onOffers([offer("o\(i)", cpus: 0.1)], now: t0.addingTimeInterval(Double(i))).launched.map(\.taskId)
        }
        _ = c.report(ids, .running, at: t0)
        spec.instances = 1
        let (_, _, ds) = try c.putApp(spec, now: t0.addingTimeInterval(10), force: false)
        XCTAssertEqual(Set(ds.killed), Set([ids[2], ids[1]]))
        spec.instances = 2
        spec.killSelection = .oldestFirst
        var d = try core(spec)
        let staged = d.onOffers([offer("a", cpus: 0.1)], now: t0).launched.map(\.taskId)
        let later = d.onOffers([offer("b", cpus: 0.1)], now: t0.addingTimeInterval(5)).launched.map(\.taskId)
        _ = d.report(staged, .running, at: t0)  // the older one runs; the younger is still staging
        spec.instances = 1
        XCTAssertEqual(try d.putApp(spec, now: t0.addingTimeInterval(10), force: true).2.killed, later)
    }

    func testUnknownTasksAreKilledAndUpdatesAcknowledgedAfterPersisting() throws {
        var c = try core(app("/web"))
        let ds = c.onStatusUpdates(
            [
                TaskStatus(
                    taskId: "stray.1", agentId: "a9", frameworkId: "f", state: .running, uuid: "u",
                    timestamp: 0)
            ], now: t0)
        XCTAssertEqual(ds.killed, ["stray.1"])
        XCTAssertTrue(ds.contains(.acknowledge([Acknowledgement(agentId: "a9", taskId: "stray.1", uuid: "u")])))
        let id = c.onOffers([offer("o")], now: t0).launched[0].taskId
        let update = c.report([id], .running, at: t0)
        let persistAt = update.firstIndex {
            if case .persistTasks = $0 { return true }
            return false
        }!
        let ackAt = update.firstIndex {
            if case .acknowledge = $0 { return true }
            return false
        }!
        XCTAssertLessThan(persistAt, ackAt)
    }

    func testLocksServicePortsAndIdenticalPuts() throws {
        var c = try core(app("/a", ports: 2), app("/b"))
        XCTAssertEqual(c.apps[try PathId(validating: "/a")]?.portDefinitions.map(\.port), [10000, 10001])
        XCTAssertEqual(c.apps[try PathId(validating: "/b")]?.portDefinitions.map(\.port), [10002])
        var fixed = app("/c")
        fixed.portDefinitions = [PortDefinition(port: 10001)]
        XCTAssertThrowsError(try c.putApp(fixed, now: t0, force: false)) { XCTAssertEqual(($0 as? APIError)?.status, 422) }
        // /a has a deployment in progress: changing it is refused unless forced.
        var a = app("/a", instances: 3, ports: 2)
        XCTAssertThrowsError(try c.putApp(a, now: t0, force: false)) { XCTAssertEqual(($0 as? APIError)?.status, 409) }
        let (stored, _, _) = try c.putApp(a, now: t0, force: true)
        XCTAssertEqual(stored.portDefinitions.map(\.port), [10000, 10001], "an update keeps its service ports")
        a = stored
        let (_, deployment, ds) = try c.putApp(a, now: t0.addingTimeInterval(1), force: true)
        XCTAssertNil(deployment)
        XCTAssertEqual(ds, [], "an identical spec changes nothing")
    }

    func testDeploymentCompletesWhenAllInstancesRun() throws {
        var c = try core(app("/web", instances: 2))
        XCTAssertEqual(c.deployments.count, 1)
        let ids = c.onOffers([offer("o")], now: t0).launched.map(\.taskId)
        _ = c.report(ids, .starting, at: t0)
        XCTAssertEqual(c.deployments.count, 1)
        _ = c.report(ids, .running, at: t0)
        XCTAssertEqual(c.deployments.count, 0)
    }

    /// One running task of a one-instance app, just reported unreachable at t0.
    func unreachableTask(inactiveAfter: Double, expungeAfter: Double) throws -> (AppsCore, String) {
        var spec = app("/web", instances: 1)
        spec.unreachableStrategy = UnreachableStrategy(inactiveAfterSeconds: inactiveAfter, expungeAfterSeconds: expungeAfter)
        var c = try core(spec)
        let id = c.onOffers([offer("o")], now: t0).launched[0].taskId
        _ = c.report([id], .running, at: t0)
        _ = c.onStatusUpdates(
            [TaskStatus(taskId: id, agentId: "a1", frameworkId: "f", state: .unreachable, timestamp: 0)], now: t0)
        return (c, id)
    }

    func testUnreachableTasksAreReplacedPerStrategyAndSurplusKilledOnReturn() throws {
        var (c, id) = try unreachableTask(inactiveAfter: 60, expungeAfter: 120)
        XCTAssertTrue(
            c.onOffers([offer("o2", agent: "a2")], now: t0.addingTimeInterval(30)).launched.isEmpty, "tolerated for 60 s")
        let replacement = c.onOffers([offer("o3", agent: "a2")], now: t0.addingTimeInterval(61)).launched
        XCTAssertEqual(replacement.count, 1)
        _ = c.report([replacement[0].taskId], .running, at: t0.addingTimeInterval(62))
        // The old copy comes back: one too many, and the returning one is the one to go.
        let back = c.onStatusUpdates(
            [TaskStatus(taskId: id, agentId: "a1", frameworkId: "f", state: .running, timestamp: 0)],
            now: t0.addingTimeInterval(63))
        XCTAssertEqual(back.killed, [id], "the old copy goes, not the replacement")
    }

    func testAnUnreachableTaskIsForgottenAfterExpungeAndKilledIfItReturns() throws {
        var (c, id) = try unreachableTask(inactiveAfter: 5, expungeAfter: 20)
        XCTAssertFalse(c.onTick(now: t0.addingTimeInterval(3)).contains(.revive))
        XCTAssertTrue(c.onTick(now: t0.addingTimeInterval(5.2)).contains(.revive), "short of an instance: offers wanted again")
        XCTAssertNotNil(c.tasks[id])
        let expunge = c.onTick(now: t0.addingTimeInterval(21))
        XCTAssertTrue(expunge.contains(.deleteTasks([id])))
        XCTAssertNil(c.tasks[id])
        let back = c.onStatusUpdates(
            [TaskStatus(taskId: id, agentId: "a1", frameworkId: "f", state: .running, timestamp: 0)],
            now: t0.addingTimeInterval(30))
        XCTAssertEqual(back.killed, [id], "a forgotten task that comes back is a stray")
    }

    /// Found by simulation seed 126: a duplicated STARTING delivered after RUNNING left the task
    /// "starting" for good (its RUNNING was already acknowledged, never to come again).
    func testADelayedEarlierUpdateDoesNotMoveATaskBack() throws {
        var c = try core(app("/web", instances: 1))
        let id = c.onOffers([offer("o")], now: t0).launched[0].taskId
        _ = c.report([id], .running, at: t0)
        _ = c.onStatusUpdates(
            [TaskStatus(taskId: id, agentId: "a1", frameworkId: "f", state: .starting, uuid: "late", timestamp: 0)], now: t0)
        XCTAssertEqual(c.tasks[id]?.state, .running)
    }

    func testRecoveryReconcilesEveryKnownTask() throws {
        var c = try core(app("/web", instances: 2))
        let launched = c.onOffers([offer("o")], now: t0).launched.map(\.taskId)
        var restarted = AppsCore(apps: Array(c.apps.values), tasks: Array(c.tasks.values), idPrefix: "q", now: t0)
        let ds = restarted.onSubscribed(now: t0)
        XCTAssertEqual(ds.first, .reconcile(launched.sorted().map { TaskRef(taskId: $0, agentId: "a1") }))
        XCTAssertTrue(ds.contains(.reconcile([])))
        XCTAssertTrue(restarted.onOffers([offer("o2")], now: t0).launched.isEmpty, "no duplicate launch after a restart")
        // The master never heard of one (crash between persisting and accepting): it is replaced.
        _ = restarted.onStatusUpdates(
            [TaskStatus(taskId: launched[0], agentId: "a1", frameworkId: "f", state: .lost, timestamp: 0)], now: t0)
        XCTAssertEqual(restarted.onOffers([offer("o3")], now: t0).launched.count, 1)
    }
}
