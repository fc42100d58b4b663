import PacerMasterCore
import PacerModel
import XCTest

final class MasterCoreTests: XCTestCase {
    let agent = AgentInfo(
        id: "a1", hostname: "h1", url: "http://a1",
        resources:
            Resources(cpus: 2, mem: 1024, disk: 100, ports: [PortRange(31000, 31009)]), attributes: ["rack": "r1"])

    func offers(_ ds: [MasterDirective]) -> [Offer] {
        ds.flatMap { d -> [Offer] in
            if case .toFramework(_, let e) = d, let o = e.offers { return o.offers }
            return []
        }
    }
    func updates(_ ds: [MasterDirective]) -> [TaskStatus] {
        ds.compactMap { d in
            if case .toFramework(_, let e) = d { return e.update?.status }
            return nil
        }
    }
    func launches(_ ds: [MasterDirective]) -> [TaskInfo] {
        ds.flatMap { d -> [TaskInfo] in
            if case .toAgent(_, _, let m) = d { return m.launch?.tasks ?? [] }
            return []
        }
    }
    func task(_ id: String, cpus: Double = 0.5, mem: Double = 100, ports: [PortRange] = []) -> TaskInfo {
        TaskInfo(
            taskId: id, name: id, agentId: "a1", resources: Resources(cpus: cpus, mem: mem, ports: ports),
            command: CommandInfo(shell: true, value: "sleep 1", arguments: nil, environment: [:]))
    }

    /// A master with one agent and one subscribed framework, and the first offer it made.
    func cluster() -> (MasterCore, String, Offer) {
        var m = MasterCore(now: 0, idPrefix: "t")
        _ = m.onRegisterAgent(agent, tasks: [], now: 0)
        let (fid, ds) = m.onSubscribe(FrameworkInfo(name: "f"), now: 0)
        return (m, fid, offers(ds)[0])
    }

    func testSubscribedFrameworkIsOfferedTheWholeFreeAgent() {
        let (_, fid, offer) = cluster()
        XCTAssertEqual(offer.frameworkId, fid)
        XCTAssertEqual(offer.resources, agent.resources)
        XCTAssertEqual(offer.attributes["rack"], "r1")
    }

    func testAcceptLaunchesFittingTasksAndRefusesTheRest() throws {
        var (m, fid, offer) = cluster()
        let ds = try m.onCall(
            .accept(
                fid, offerIds: [offer.id],
                tasks: [
                    task("ok", ports: [PortRange(31000, 31000)]), task("too-big", cpus: 4),
                    task("bad-port", ports: [PortRange(40000, 40000)])
                ], refuseSeconds: 0), now: 1)
        XCTAssertEqual(launches(ds).map(\.taskId), ["ok"])
        let errors = updates(ds)
        XCTAssertEqual(Set(errors.map(\.taskId)), ["too-big", "bad-port"])
        XCTAssertTrue(errors.allSatisfy { $0.state == .error && $0.uuid == nil })
        // The rest of the agent is offered again at once (refuse 0), without the launched task's share.
        let again = offers(ds)
        XCTAssertEqual(again.first?.resources.cpus, 1.5)
        XCTAssertFalse(again.first?.resources.portList.contains(31000) ?? true)
    }

    func testStaleOfferDropsTheLaunch() throws {
        var (m, fid, offer) = cluster()
        _ = try m.onCall(.decline(fid, offerIds: [offer.id], refuseSeconds: 0), now: 1)
        let ds = try m.onCall(.accept(fid, offerIds: [offer.id], tasks: [task("t")]), now: 1)
        XCTAssertEqual(updates(ds).first?.state, .dropped)
        XCTAssertTrue(launches(ds).isEmpty)
    }

    func testDeclineRefusesUntilTheFilterExpiresOrRevive() throws {
        var (m, fid, offer) = cluster()
        _ = try m.onCall(.decline(fid, offerIds: [offer.id], refuseSeconds: 10), now: 1)
        XCTAssertTrue(offers(m.onTick(now: 5)).isEmpty)
        XCTAssertEqual(offers(m.onTick(now: 11.5)).count, 1)
        let o = m.offers.values.first!
        _ = try m.onCall(.decline(fid, offerIds: [o.id], refuseSeconds: 100), now: 12)
        XCTAssertTrue(offers(m.onTick(now: 13)).isEmpty)
        XCTAssertEqual(
            offers(try m.onCall(SchedulerCall(type: .revive, frameworkId: fid), now: 13)).count, 1,
            "at once when no pass just ran")
        // A revive right after a full allocation pass is served by the next one (at most
        // minFullAllocation later), so a burst of revives costs one pass, not one each.
        _ = try m.onCall(.decline(fid, offerIds: Array(m.offers.keys), refuseSeconds: 100), now: 13)
        XCTAssertTrue(offers(try m.onCall(SchedulerCall(type: .revive, frameworkId: fid), now: 13)).isEmpty)
        XCTAssertEqual(offers(m.onTick(now: 13 + m.settings.minFullAllocation * 2)).count, 1)
    }

    /// Bad input (B-class): any number is valid JSON; a refusal of 1e300 s trapped the master.
    func testAnEndlessRefusalIsAYearNotACrash() throws {
        var (m, fid, offer) = cluster()
        _ = try m.onCall(.decline(fid, offerIds: [offer.id], refuseSeconds: 1e300), now: 1)
        let until = try XCTUnwrap(m.frameworks[fid]?.refusals.values.first)
        XCTAssertEqual(until.secondsSince1970, 1 + 365 * 24 * 3600, "refused for a year")
        XCTAssertTrue(offers(m.onTick(now: 2)).isEmpty)
        // A negative refusal refuses nothing: the agent is offered again at once.
        let again = offers(try m.onCall(SchedulerCall(type: .revive, frameworkId: fid), now: 3))
        XCTAssertEqual(again.count, 1)
        XCTAssertEqual(offers(try m.onCall(.decline(fid, offerIds: [again[0].id], refuseSeconds: -5), now: 4)).count, 1)
    }

    func testSuppressedFrameworkGetsNoOffers() throws {
        var (m, fid, offer) = cluster()
        _ = try m.onCall(SchedulerCall(type: .suppress, frameworkId: fid), now: 1)
        _ = try m.onCall(.decline(fid, offerIds: [offer.id], refuseSeconds: 0), now: 1)
        XCTAssertTrue(offers(m.onTick(now: 2)).isEmpty)
    }

    func testCallsFromUnsubscribedFrameworksAreRefused() {
        var m = MasterCore(now: 0, idPrefix: "t")
        XCTAssertThrowsError(try m.onCall(SchedulerCall(type: .revive, frameworkId: "nobody"), now: 0))
    }

    func testSilentAgentBecomesUnreachableAndItsTasksAreReported() throws {
        var (m, fid, offer) = cluster()
        _ = try m.onCall(.accept(fid, offerIds: [offer.id], tasks: [task("t1")]), now: 1)
        XCTAssertEqual(m.onHeartbeat(agentId: "a1", now: 10), .recorded)
        XCTAssertTrue(updates(m.onTick(now: 20)).isEmpty)  // 10 s of silence < 15 s timeout
        let ds = m.onTick(now: 26)
        XCTAssertEqual(updates(ds).map(\.state), [.unreachable])
        XCTAssertTrue(
            ds.contains {
                if case .toFramework(_, let e) = $0 { return e.type == .failure }
                return false
            })
        XCTAssertEqual(m.onHeartbeat(agentId: "a1", now: 27), .registerAgain)  // must register again
        // It comes back with its task: the framework hears the real state.
        let back = m.onRegisterAgent(agent, tasks: [.init(task: task("t1"), frameworkId: fid, state: .running)], now: 28)
        XCTAssertEqual(updates(back).map(\.state), [.running])
    }

    func testStatusUpdatesAreForwardedAndTerminalOnesFreeResources() throws {
        var (m, fid, offer) = cluster()
        _ = try m.onCall(.accept(fid, offerIds: [offer.id], tasks: [task("t1", cpus: 2)], refuseSeconds: 0), now: 1)
        XCTAssertTrue(offers(m.onTick(now: 1)).isEmpty)  // nothing free: all cpus used
        let running = TaskStatus(taskId: "t1", agentId: "a1", frameworkId: fid, state: .running, uuid: "u1", timestamp: 2)
        XCTAssertEqual(updates(m.onAgentUpdates(agentId: "a1", [running], now: 2)), [running])
        var failed = running
        failed.state = .failed
        failed.uuid = "u2"
        let ds = m.onAgentUpdates(agentId: "a1", [failed], now: 3)
        XCTAssertEqual(updates(ds), [failed])
        XCTAssertEqual(offers(ds).first?.resources.cpus, 2)
    }

    /// An agent's task table gives back the room a past peak needed: under churn every agent in
    /// turn reached a new peak, and the master grew with the sum of them.
    func testAnAgentsTaskTableShrinksWhenMostOfItsTasksEnd() {
        var m = MasterCore(now: 0, idPrefix: "t")
        let (fid, _) = m.onSubscribe(FrameworkInfo(name: "f"), now: 0)
        let ids = (0..<200).map { "t\($0)" }
        _ = m.onRegisterAgent(
            agent, tasks: ids.map { .init(task: task($0, cpus: 0.01, mem: 1), frameworkId: fid, state: .running) }, now: 1)
        let peak = m.agents["a1"]!.tasks.capacity
        XCTAssertGreaterThanOrEqual(peak, 200)
        for (n, id) in ids.dropFirst(10).enumerated() {
            let ended = TaskStatus(taskId: id, agentId: "a1", frameworkId: fid, state: .killed, uuid: "u\(n)", timestamp: 2)
            _ = m.onAgentUpdates(agentId: "a1", [ended], now: 2)
        }
        let left = m.agents["a1"]!.tasks
        XCTAssertEqual(Set(left.keys), Set(ids.prefix(10)))
        XCTAssertLessThanOrEqual(left.capacity, 48, "room for \(peak) kept for \(left.count) tasks")
        // The task → agent index still finds every task left, and none of the ended ones.
        for id in ids.prefix(10) { XCTAssertEqual(m.task(id)?.agent.info.id, "a1") }
        XCTAssertNil(m.task(ids[10]))
        // What a slot costs: the launched TaskInfo is held by reference (inline it was 370 bytes).
        XCTAssertLessThanOrEqual(MemoryLayout<MasterTask>.stride, 64)
    }

    func testAcknowledgementsGoToTheAgent() throws {
        var (m, fid, _) = cluster()
        let ds = try m.onCall(.acknowledge(fid, [Acknowledgement(agentId: "a1", taskId: "t", uuid: "u")]), now: 1)
        XCTAssertEqual(
            ds,
            [.toAgent(agentId: "a1", url: "http://a1", .acknowledge([Acknowledgement(agentId: "a1", taskId: "t", uuid: "u")]))])
    }

    func testReconciliationAnswersKnownTasksAndLostForUnknownAfterTheWindow() throws {
        var (m, fid, offer) = cluster()
        _ = try m.onCall(.accept(fid, offerIds: [offer.id], tasks: [task("t1")]), now: 1)
        let explicit = try m.onCall(
            .reconcile(
                fid,
                [
                    TaskRef(taskId: "t1", agentId: "a1"), TaskRef(taskId: "ghost", agentId: nil),
                    TaskRef(taskId: "ghost2", agentId: "a9")
                ]), now: 2)
        XCTAssertEqual(updates(explicit).map(\.taskId), ["t1"])  // ghosts: silence while their agents may re-register
        // An agent that is back reported every task it has: one it does not have is lost, window or not.
        let onKnownAgent = try m.onCall(.reconcile(fid, [TaskRef(taskId: "never-launched", agentId: "a1")]), now: 2)
        XCTAssertEqual(updates(onKnownAgent).map(\.state), [.lost])
        let later = try m.onCall(.reconcile(fid, [TaskRef(taskId: "ghost", agentId: nil)]), now: 100)
        XCTAssertEqual(updates(later).map(\.state), [.lost])
        let implicit = try m.onCall(.reconcile(fid, []), now: 100)
        XCTAssertEqual(updates(implicit).map(\.taskId), ["t1"])
        // The latest health travels with the answer: a framework that failed over needs it at once.
        var healthy = TaskStatus(taskId: "t1", agentId: "a1", frameworkId: fid, state: .running, uuid: "u1", timestamp: 101)
        healthy.healthy = true
        _ = m.onAgentUpdates(agentId: "a1", [healthy], now: 101)
        let withHealth = try m.onCall(.reconcile(fid, [TaskRef(taskId: "t1", agentId: "a1")]), now: 102)
        XCTAssertEqual(updates(withHealth).map(\.healthy), [true])
    }

    func testFrameworkFailoverKeepsTasksAndTimeoutTearsDown() throws {
        var (m, fid, offer) = cluster()
        _ = try m.onCall(.accept(fid, offerIds: [offer.id], tasks: [task("t1")]), now: 1)
        XCTAssertEqual(m.onDisconnected(frameworkId: fid, now: 2), [])
        XCTAssertTrue(m.offers.isEmpty)
        let (same, _) = m.onSubscribe(FrameworkInfo(id: fid, name: "f", failoverTimeoutSeconds: 60), now: 3)
        XCTAssertEqual(same, fid)
        XCTAssertNotNil(m.task("t1"))
        XCTAssertEqual(m.onDisconnected(frameworkId: fid, now: 4), [])
        XCTAssertEqual(m.onHeartbeat(agentId: "a1", now: 59), .recorded)
        _ = m.onTick(now: 60)
        XCTAssertNotNil(m.frameworks[fid])  // within its failover timeout
        XCTAssertEqual(m.onHeartbeat(agentId: "a1", now: 60), .recorded)
        let kills = m.onTick(now: 70).filter {
            if case .toAgent(_, _, let msg) = $0 { return msg.type == .kill }
            return false
        }
        XCTAssertEqual(kills.count, 1)
        XCTAssertNil(m.frameworks[fid])
    }

    /// `KILL_MANY`: one KILL call names several tasks; each goes to its agent as a KILL of its own.
    func testOneKillCallNamesSeveralTasks() throws {
        var m = MasterCore(now: 0, idPrefix: "t")
        _ = m.onRegisterAgent(agent, tasks: [], now: 0)
        let (fid, subscribed) = m.onSubscribe(FrameworkInfo(name: "f"), now: 0)
        let capabilities = subscribed.compactMap { d -> [String]? in
            if case .toFramework(_, let e) = d { return e.subscribed?.capabilities }
            return nil
        }
        XCTAssertEqual(capabilities, [[SchedulerEvent.Capability.killMany]])
        _ = try m.onCall(.accept(fid, offerIds: [offers(subscribed)[0].id], tasks: [task("t1"), task("t2")]), now: 1)
        let ds = try m.onCall(
            .kill(fid, [.init(taskId: "t1", agentId: "a1"), .init(taskId: "t2", agentId: "a1")]), now: 2)
        // The agent takes KILL_MANY: one message names both.
        let killed = ds.compactMap { d -> [String]? in
            if case .toAgent("a1", _, let msg) = d, msg.type == .kill { return msg.killOrders.map(\.taskId) }
            return nil
        }
        XCTAssertEqual(killed, [["t1", "t2"]])

        // Either one task or a list, not both; and a bounded list.
        var both = SchedulerCall.kill(fid, [.init(taskId: "t1", agentId: "a1")])
        both.kill = .init(taskId: "t2", agentId: "a1")
        XCTAssertThrowsError(try m.onCall(both, now: 3))
        XCTAssertThrowsError(try m.onCall(SchedulerCall(type: .kill, frameworkId: fid), now: 3))
        let tooMany = (0...MasterCore.maxKillsPerCall).map { SchedulerCall.Kill(taskId: "x\($0)", agentId: "a1") }
        XCTAssertThrowsError(try m.onCall(.kill(fid, tooMany), now: 3)) { error in
            XCTAssertTrue("\(error)".contains("at most"), "\(error)")
        }
    }

    /// One KILL message per agent that names `KILL_MANY` in its registration; an agent that does
    /// not (an older one, mid-upgrade) gets one message a task, as before.
    func testKillsOfOneCallGoToEachAgentAsOneMessageWhenItTakesSeveral() throws {
        var m = MasterCore(now: 0, idPrefix: "t")
        var older = agent
        older.id = "a2"
        older.url = "http://127.0.0.1:5052"
        older.capabilities = nil
        _ = m.onRegisterAgent(agent, tasks: [], now: 0)
        _ = m.onRegisterAgent(older, tasks: [], now: 0)
        let (fid, subscribed) = m.onSubscribe(FrameworkInfo(name: "f"), now: 0)
        for offer in offers(subscribed) {
            let prefix = offer.agentId == "a1" ? "n" : "o"
            let tasks = (1...3).map { n -> TaskInfo in
                var t = task("\(prefix)\(n)")
                t.agentId = offer.agentId
                return t
            }
            _ = try m.onCall(.accept(fid, offerIds: [offer.id], tasks: tasks), now: 1)
        }
        let kills = ["n1", "o1", "n2", "o2", "n3"].map {
            SchedulerCall.Kill(taskId: $0, agentId: $0.hasPrefix("n") ? "a1" : "a2")
        }
        let ds = try m.onCall(.kill(fid, kills), now: 2)
        let messages = ds.compactMap { d -> String? in
            guard case .toAgent(let agentId, _, let msg) = d, msg.type == .kill else { return nil }
            return "\(agentId):\(msg.kills == nil ? "kill" : "kills") \(msg.killOrders.map(\.taskId).joined(separator: ","))"
        }
        XCTAssertEqual(offers(subscribed).count, 2)
        XCTAssertEqual(messages, ["a1:kills n1,n2,n3", "a2:kill o1", "a2:kill o2"])
        // On the wire a single kill stays `kill`, as every agent reads it.
        XCTAssertEqual(AgentMessage.kill([.init(taskId: "x", frameworkId: fid)]), .kill(framework: fid, task: "x"))
    }

    func testAgentRestartWithoutATaskReportsItLost() throws {
        var (m, fid, offer) = cluster()
        _ = try m.onCall(.accept(fid, offerIds: [offer.id], tasks: [task("t1")]), now: 1)
        let ds = m.onRegisterAgent(agent, tasks: [], now: 2)
        XCTAssertEqual(updates(ds).map(\.state), [.lost])
    }

    func testTwoFrameworksShareAgentsInTurn() throws {
        var m = MasterCore(now: 0, idPrefix: "t")
        for i in 1...4 {
            var a = agent
            a.id = "a\(i)"
            _ = m.onRegisterAgent(a, tasks: [], now: 0)
        }
        let (f1, first) = m.onSubscribe(FrameworkInfo(name: "one"), now: 0)
        XCTAssertEqual(offers(first).count, 4)  // alone, it gets everything
        let (f2, _) = m.onSubscribe(FrameworkInfo(name: "two"), now: 0)
        _ = try m.onCall(.decline(f1, offerIds: Array(m.offers.keys), refuseSeconds: 0), now: 1)
        // Once offers come back, each framework gets its turn: fewest outstanding offers first.
        let byFramework = Dictionary(grouping: m.offers.values, by: \.frameworkId).mapValues(\.count)
        XCTAssertEqual(byFramework, [f1: 2, f2: 2])
    }
}

extension MasterCoreTests {
    func testAnUnansweredOfferIsRescindedAndOfferedAgainAfterTheOfferTimeout() {
        var (m, fid, offer) = cluster()
        XCTAssertTrue(
            offers(m.onTick(now: Instant(secondsSince1970: m.settings.offerTimeout.seconds - 1))).isEmpty,
            "one offer per agent while it is out")
        XCTAssertEqual(
            m.onHeartbeat(agentId: agent.id, now: Instant(secondsSince1970: m.settings.offerTimeout.seconds)), .recorded)
        let ds = m.onTick(now: Instant(secondsSince1970: m.settings.offerTimeout.seconds + 0.5))
        let rescinded = ds.compactMap { d -> String? in
            if case .toFramework(fid, let e) = d { return e.rescind?.offerId }
            return nil
        }
        XCTAssertEqual(rescinded, [offer.id])
        let again = offers(ds)
        XCTAssertEqual(again.count, 1)
        XCTAssertNotEqual(again.first?.id, offer.id)
        XCTAssertEqual(again.first?.resources, agent.resources)
    }

    /// An ACCEPT that arrives after its offer timed out (it waited behind a busy framework's
    /// backlog) launches when what the offer held is still free: the re-offer made meanwhile is
    /// taken back. Once those resources are used, or twice the offer timeout has passed, the
    /// launch is dropped as before.
    func testAnAcceptOfALapsedOfferLaunchesWhileItsResourcesAreStillFree() throws {
        let timeout = MasterCore(now: 0, idPrefix: "x").settings.offerTimeout.seconds
        func at(_ s: Double) -> Instant { Instant(secondsSince1970: s) }
        func beat(_ m: inout MasterCore, _ s: Double) { _ = m.onHeartbeat(agentId: agent.id, now: at(s)) }

        var (m, fid, offer) = cluster()
        beat(&m, timeout)
        let reoffer = try XCTUnwrap(offers(m.onTick(now: at(timeout + 0.5))).first, "offered again after the timeout")
        beat(&m, timeout + 1)
        let ds = try m.onCall(.accept(fid, offerIds: [offer.id], tasks: [task("late")], refuseSeconds: 0), now: at(timeout + 1))
        XCTAssertEqual(launches(ds).map(\.taskId), ["late"])
        XCTAssertTrue(updates(ds).isEmpty, "nothing dropped")
        let rescinded = ds.compactMap { d -> String? in
            if case .toFramework(fid, let e) = d { return e.rescind?.offerId }
            return nil
        }
        XCTAssertEqual(rescinded, [reoffer.id], "the re-offer of the same resources taken back")
        XCTAssertNil(m.offers[reoffer.id])
        XCTAssertEqual(
            updates(try m.onCall(.accept(fid, offerIds: [offer.id], tasks: [task("again")]), now: at(timeout + 2))).map(\.state),
            [.dropped], "a lapsed offer is used once")

        // Its resources taken by a launch on the re-offer: the late ACCEPT is dropped.
        var (m2, fid2, offer2) = cluster()
        beat(&m2, timeout)
        let reoffer2 = try XCTUnwrap(offers(m2.onTick(now: at(timeout + 0.5))).first)
        let big = task("big", cpus: 2, mem: 1024)
        XCTAssertEqual(
            launches(try m2.onCall(.accept(fid2, offerIds: [reoffer2.id], tasks: [big]), now: at(timeout + 1))).map(\.taskId),
            ["big"])
        XCTAssertEqual(
            updates(try m2.onCall(.accept(fid2, offerIds: [offer2.id], tasks: [task("late")]), now: at(timeout + 2))).map(
                \.state),
            [.dropped])

        // Forgotten twice the offer timeout after it was made.
        var (m3, fid3, offer3) = cluster()
        for s in stride(from: timeout, through: 2 * timeout + 1, by: 1) {
            beat(&m3, s)
            _ = m3.onTick(now: at(s + 0.5))
        }
        XCTAssertEqual(
            updates(try m3.onCall(.accept(fid3, offerIds: [offer3.id], tasks: [task("late")]), now: at(2 * timeout + 2)))
                .map(\.state), [.dropped])
    }

    /// An agent resends its unacknowledged head every 2–10 s; the master forwards each update to
    /// the framework's subscription once (30 s window), again after that window or to a new
    /// subscription, and a new update at once.
    func testAnAgentsResendOfAnUnacknowledgedUpdateIsForwardedOnceASubscription() throws {
        var (m, fid, offer) = cluster()
        func at(_ s: Double) -> Instant { Instant(secondsSince1970: s) }
        _ = try m.onCall(.accept(fid, offerIds: [offer.id], tasks: [task("t1")], refuseSeconds: 0), now: at(1))
        let running = TaskStatus(taskId: "t1", agentId: "a1", frameworkId: fid, state: .running, uuid: "u1", timestamp: 2)
        XCTAssertEqual(updates(m.onAgentUpdates(agentId: "a1", [running], now: at(2))), [running])
        XCTAssertEqual(updates(m.onAgentUpdates(agentId: "a1", [running], now: at(4))), [], "a resend 2 s later")
        XCTAssertEqual(updates(m.onAgentUpdates(agentId: "a1", [running], now: at(14))), [], "and 12 s later")
        XCTAssertEqual(m.resendsNotForwarded, 2)
        XCTAssertEqual(updates(m.onAgentUpdates(agentId: "a1", [running], now: at(32))), [running], "past the window")

        // A new subscription (the framework lost its stream) gets the resend at once.
        _ = m.onSubscribe(FrameworkInfo(id: fid, name: "f"), now: at(33))
        XCTAssertEqual(updates(m.onAgentUpdates(agentId: "a1", [running], now: at(34))), [running])

        // Acknowledged, then the next update: forwarded, and its own resend is not.
        _ = try m.onCall(.acknowledge(fid, [Acknowledgement(agentId: "a1", taskId: "t1", uuid: "u1")]), now: at(35))
        var healthy = running
        healthy.uuid = "u2"
        healthy.healthy = true
        XCTAssertEqual(updates(m.onAgentUpdates(agentId: "a1", [healthy], now: at(36))), [healthy])
        XCTAssertEqual(updates(m.onAgentUpdates(agentId: "a1", [healthy], now: at(38))), [])

        // An update the framework acknowledged and the agent sent again anyway (the ACKNOWLEDGE
        // crossed the resend): forwarded, so it is acknowledged again.
        _ = try m.onCall(.acknowledge(fid, [Acknowledgement(agentId: "a1", taskId: "t1", uuid: "u2")]), now: at(39))
        XCTAssertEqual(updates(m.onAgentUpdates(agentId: "a1", [healthy], now: at(40))), [healthy])
    }
}
