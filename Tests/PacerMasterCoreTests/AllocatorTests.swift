import PacerModel
import PacerTestKit
import XCTest

@testable import PacerMasterCore

/// Roles, weights, quota and reservations: a few named cases, then many randomized clusters with
/// the allocator's invariants checked after every step.
final class AllocatorTests: XCTestCase {
    func agent(_ id: String, cpus: Double, mem: Double, reserved: [String: Resources]? = nil) -> AgentInfo {
        AgentInfo(
            id: id, hostname: id, url: "http://\(id)", resources: Resources(cpus: cpus, mem: mem, disk: 0), reserved: reserved)
    }

    func offers(_ ds: [MasterDirective]) -> [Offer] {
        ds.flatMap { d -> [Offer] in
            if case .toFramework(_, let e) = d, let o = e.offers { return o.offers }
            return []
        }
    }

    func task(_ id: String, on agentId: String, cpus: Double, mem: Double) -> TaskInfo {
        TaskInfo(
            taskId: id, name: id, agentId: agentId, resources: Resources(cpus: cpus, mem: mem),
            command: CommandInfo(shell: true, value: "sleep 1", arguments: nil, environment: [:]))
    }

    func testReservedResourcesAreOfferedOnlyToTheirRoleAndUnreservingWaitsForTheirTasks() throws {
        var m = MasterCore(now: 0, idPrefix: "t")
        _ = m.onRegisterAgent(agent("a1", cpus: 4, mem: 4096), tasks: [], now: 0)
        XCTAssertThrowsError(try m.reserve(Reservation(agentId: "a1", role: "web", resources: Resources(cpus: 8))))
        _ = try m.reserve(Reservation(agentId: "a1", role: "web", resources: Resources(cpus: 2, mem: 1024)))
        let (other, o1) = m.onSubscribe(FrameworkInfo(name: "other"), now: 0)
        let first = try XCTUnwrap(offers(o1).first)
        XCTAssertEqual(first.role, "*")
        XCTAssertEqual(first.resources.cpus, 2, "the reserved half is not offered to role *")
        // `other` takes everything unreserved; the web framework still gets its reservation.
        _ = try m.onCall(
            .accept(other, offerIds: [first.id], tasks: [task("o1", on: "a1", cpus: 2, mem: 3072)], refuseSeconds: 0), now: 1)
        let (web, o2) = m.onSubscribe(FrameworkInfo(name: "web", roles: ["web"]), now: 1)
        let webOffer = try XCTUnwrap(offers(o2 + m.onTick(now: 2)).first { $0.frameworkId == web })
        XCTAssertEqual(webOffer.role, "web")
        XCTAssertEqual(webOffer.resources.cpus, 2)
        XCTAssertEqual(webOffer.resources.mem, 1024)
        _ = try m.onCall(
            .accept(web, offerIds: [webOffer.id], tasks: [task("w1", on: "a1", cpus: 1, mem: 512)], refuseSeconds: 5), now: 2)
        XCTAssertThrowsError(try m.unreserve(Reservation(agentId: "a1", role: "web", resources: Resources(cpus: 2, mem: 1024)))) {
            XCTAssertTrue(($0 as? MasterCallError)?.message.contains("in use") == true, "\($0)")
        }
        // The part the task does not need may go back.
        _ = try m.unreserve(Reservation(agentId: "a1", role: "web", resources: Resources(cpus: 1, mem: 512)))
        XCTAssertEqual(m.policy.reservations["a1"]?["web"], Resources(cpus: 1, mem: 512))
    }

    func testQuotaLimitCapsOffersAndGuaranteesAreKeptFree() throws {
        var m = MasterCore(now: 0, idPrefix: "t")
        _ = m.onRegisterAgent(agent("a1", cpus: 4, mem: 4096), tasks: [], now: 0)
        _ = m.onRegisterAgent(agent("a2", cpus: 4, mem: 4096), tasks: [], now: 0)
        try m.setQuota("batch", Quota(limit: Resources(cpus: 3, mem: 100_000)))
        try m.setQuota("web", Quota(guarantee: Resources(cpus: 4, mem: 2048)))
        let (batch, ds) = m.onSubscribe(FrameworkInfo(name: "batch", roles: ["batch"]), now: 0)
        let batchOffers = offers(ds).filter { $0.frameworkId == batch }
        XCTAssertEqual(batchOffers.reduce(0) { $0 + $1.resources.cpus }, 3, accuracy: 1e-9, "never beyond the role's limit")
        // A role without quota may not eat into web's unmet guarantee: 8 cpus - 3 batch - 4 kept = 1.
        let (other, ds2) = m.onSubscribe(FrameworkInfo(name: "other"), now: 0)
        XCTAssertEqual(offers(ds2).filter { $0.frameworkId == other }.reduce(0) { $0 + $1.resources.cpus }, 1, accuracy: 1e-9)
        XCTAssertThrowsError(try m.setQuota("web", Quota(guarantee: Resources(cpus: 4), limit: Resources(cpus: 2))))
        XCTAssertThrowsError(try m.setQuota("*", Quota(guarantee: Resources(cpus: 1))))
    }

    func testWeightedDRFSplitsByWeight() throws {
        var m = MasterCore(now: 0, idPrefix: "t")
        try m.setWeight("gold", 3)
        let (gold, _) = m.onSubscribe(FrameworkInfo(name: "gold", roles: ["gold"]), now: 0)
        let (silver, _) = m.onSubscribe(FrameworkInfo(name: "silver", roles: ["silver"]), now: 0)
        var ds: [MasterDirective] = []
        for i in 0..<12 { ds += m.onRegisterAgent(agent("a\(i)", cpus: 1, mem: 1024), tasks: [], now: 0) }
        // Every offer held (not launched): 12 single-cpu agents split 9 / 3.
        let all = offers(ds + m.onTick(now: 1))
        XCTAssertEqual(all.filter { $0.frameworkId == gold }.count, 9)
        XCTAssertEqual(all.filter { $0.frameworkId == silver }.count, 3)
    }

    func testBatchOnRevocableCapacityIsPreemptedForServices() throws {
        var m = MasterCore(now: 0, idPrefix: "t")
        _ = m.onRegisterAgent(agent("a1", cpus: 2, mem: 2048), tasks: [], now: 0)
        let (fid, ds) = m.onSubscribe(FrameworkInfo(name: "apps", capabilities: ["REVOCABLE_RESOURCES"]), now: 0)
        let regular = try XCTUnwrap(offers(ds).first { $0.revocable != true })
        let declined = try m.onCall(.decline(fid, offerIds: [regular.id], refuseSeconds: 3), now: 0)
        let revocable = try XCTUnwrap(offers(ds + declined + m.onTick(now: 1)).first { $0.revocable == true })
        XCTAssertEqual(revocable.resources.cpus, 2)
        let batch = (0..<4).map { task("b\($0)", on: "a1", cpus: 0.5, mem: 512) }
        _ = try m.onCall(.accept(fid, offerIds: [revocable.id], tasks: batch, refuseSeconds: 0), now: 1)
        // Services are still offered the whole agent: batch tasks do not count against them.
        let service = try XCTUnwrap(offers(m.onTick(now: 5)).first { $0.revocable != true })
        XCTAssertEqual(service.resources.cpus, 2)
        let ds2 = try m.onCall(.accept(fid, offerIds: [service.id], tasks: [task("s1", on: "a1", cpus: 1.2, mem: 600)]), now: 5)
        let kills = ds2.compactMap { d -> AgentMessage.Kill? in
            if case .toAgent(_, _, let msg) = d { return msg.kill }
            return nil
        }
        XCTAssertEqual(kills.count, 3, "as few batch tasks as make room: 1.2 + 0.5 fits in 2")
        XCTAssertTrue(kills.allSatisfy { $0.reason == "REASON_TASK_PREEMPTED" && $0.taskId.hasPrefix("b") })
    }

    func testAReviveForGuaranteedOffersKeepsRevocableRefusals() throws {
        var m = MasterCore(now: 0, idPrefix: "t")
        _ = m.onRegisterAgent(agent("a1", cpus: 2, mem: 2048), tasks: [], now: 0)
        let (fid, ds) = m.onSubscribe(FrameworkInfo(name: "apps", capabilities: ["REVOCABLE_RESOURCES"]), now: 0)
        /// Declines every offer made until none is left; what was offered.
        func declineAll(_ first: [MasterDirective], at now: Instant) throws -> [Offer] {
            var made: [Offer] = []
            var next = offers(first)
            while !next.isEmpty {
                made += next
                next = offers(try m.onCall(.decline(fid, offerIds: next.map(\.id), refuseSeconds: 100), now: now))
            }
            return made
        }
        let first = try declineAll(ds, at: 0)
        XCTAssertEqual(first.map { $0.revocable == true }, [false, true], "the agent, then its idle capacity once refused")
        // Seconds apart (the agent sends no heartbeat here: it would be unreachable after 15 s).
        let guaranteed = try declineAll(try m.onCall(.revive(fid, revocable: false), now: 1), at: 1)
        XCTAssertEqual(guaranteed.map { $0.revocable == true }, [false], "revocable capacity stays refused")
        XCTAssertTrue(offers(m.onTick(now: 2)).isEmpty)
        let all = try declineAll(try m.onCall(.revive(fid, revocable: true), now: 3), at: 3)
        XCTAssertEqual(all.map { $0.revocable == true }, [false, true])
        let mesos = try declineAll(try m.onCall(SchedulerCall(type: .revive, frameworkId: fid), now: 4), at: 4)
        XCTAssertEqual(mesos.map { $0.revocable == true }, [false, true], "a REVIVE without the field lifts every refusal")
    }

    func testIdleServiceCPUIsLentToBatchAndTakenBackOnlyAsNeeded() throws {
        var m = MasterCore(now: 0, idPrefix: "t")
        _ = m.onRegisterAgent(agent("a1", cpus: 4, mem: 4096), tasks: [], now: 0)
        let (fid, ds) = m.onSubscribe(FrameworkInfo(name: "apps", capabilities: ["REVOCABLE_RESOURCES"]), now: 0)
        let regular = try XCTUnwrap(offers(ds).first { $0.revocable != true })
        // Services hold 3 of 4 cpus but use almost none of it.
        var out = try m.onCall(
            .accept(
                fid, offerIds: [regular.id],
                tasks: [
                    task("s1", on: "a1", cpus: 1.5, mem: 512),
                    task("s2", on: "a1", cpus: 1.5, mem: 512)
                ], refuseSeconds: 30), now: 1)
        let old = try XCTUnwrap(offers(ds + out).last { $0.revocable == true && m.offers[$0.id] != nil })
        XCTAssertEqual(old.resources.cpus, 1, accuracy: 1e-9, "unmeasured services count whole")
        out = try m.onCall(.decline(fid, offerIds: [old.id], refuseSeconds: 1), now: 1)
        XCTAssertEqual(m.onHeartbeat(agentId: "a1", usage: ["s1": 0.02, "s2": 0.1], now: 2), .recorded)
        let lent = try XCTUnwrap(offers(m.onTick(now: 3)).first { $0.revocable == true })
        // 4 - (0.02 × 1.25 + 0.05) - (0.1 × 1.25 + 0.05) = 3.75
        XCTAssertEqual(lent.resources.cpus, 3.75, accuracy: 1e-9)
        XCTAssertEqual(lent.resources.mem, 3072, accuracy: 1e-9, "memory is never lent")
        _ = try m.onCall(
            .accept(fid, offerIds: [lent.id], tasks: (0..<7).map { task("b\($0)", on: "a1", cpus: 0.5, mem: 256) }), now: 3)
        // A busy service does not preempt by itself (its weight takes the cpu back); a new service
        // task does, and only as much as it needs.
        XCTAssertEqual(m.onHeartbeat(agentId: "a1", usage: ["s1": 0.02, "s2": 0.1], now: 40), .recorded)
        let svcOffer = try XCTUnwrap(offers(m.onTick(now: 40)).first { $0.revocable != true })
        let ds2 = try m.onCall(
            .accept(fid, offerIds: [svcOffer.id], tasks: [task("s3", on: "a1", cpus: 0.75, mem: 256)]), now: 40)
        let kills = ds2.compactMap { d -> AgentMessage.Kill? in
            if case .toAgent(_, _, let msg) = d { return msg.kill }
            return nil
        }
        XCTAssertEqual(kills.count, 1, "0.75 new + 0.25 expected + 3.5 batch = 4.5 > 4: one half-cpu task goes")
    }

    /// A quiet tick looks at the agents whose refusals ended, not at every agent: what allocation
    /// costs follows declines and changes, not the size of the cluster (issue 12: a pass over
    /// 10,000 agents a second was a fifth of an idle master's CPU).
    func testQuietTicksLookOnlyAtAgentsWhoseRefusalsEnded() throws {
        var m = MasterCore(now: 0, idPrefix: "t")
        for i in 0..<1000 { _ = m.onRegisterAgent(agent("a\(i)", cpus: 4, mem: 4096), tasks: [], now: 0) }
        // A framework that also takes revocable offers (as Pacer's does, for batch work).
        let (fid, subscribed) = m.onSubscribe(FrameworkInfo(name: "f", capabilities: ["REVOCABLE_RESOURCES"]), now: 0)
        let all = offers(subscribed)
        XCTAssertEqual(all.count, 1000)
        _ = try m.onCall(.decline(fid, offerIds: all.prefix(500).map(\.id), refuseSeconds: 4), now: 1)
        _ = try m.onCall(.decline(fid, offerIds: all.suffix(500).map(\.id), refuseSeconds: 8.5), now: 1)
        let visited = m.agentsVisited
        var back: [Double: Int] = [:]
        for quarter in 5...48 {
            let now = Double(quarter) / 4
            let made = offers(m.onTick(now: Instant(secondsSince1970: now)))
            if !made.isEmpty { back[now] = made.count }
        }
        XCTAssertEqual(back, [5: 500, 10: 500], "each agent back when its refusal ended (9.5 s: at the next whole second)")
        XCTAssertEqual(m.agentsVisited - visited, 1000, "11 s of ticks looked at each agent once, when its refusal ended")
        // Measured use changes what is lent as revocable: that agent, and only it, is looked at.
        XCTAssertEqual(m.onHeartbeat(agentId: "a7", usage: ["x": 0.5], now: 12), .recorded)
        let afterUse = m.agentsVisited
        _ = m.onTick(now: 12)
        XCTAssertEqual(m.agentsVisited - afterUse, 1)
        // With quota an agent's offer depends on the role's use elsewhere: every agent each interval.
        m.policy.quotas["*"] = Quota(limit: Resources(cpus: 100_000))
        let withQuota = m.agentsVisited
        _ = m.onTick(now: 12.25)
        XCTAssertEqual(m.agentsVisited - withQuota, 1000)
    }

    func testAllocationHistoryIsBoundedAndOrdered() throws {
        var m = MasterCore(now: 0, idPrefix: "t")
        _ = m.onRegisterAgent(agent("a1", cpus: 4, mem: 4096), tasks: [], now: 0)
        var h = AllocationHistory(period: 10, span: 100)
        for i in 0..<25 { h.record(m, now: Instant(secondsSince1970: Double(i))) }
        XCTAssertEqual(h.samples.count, 10)
        XCTAssertEqual(h.ordered.map(\.time), (15..<25).map(Double.init))
        XCTAssertEqual(h.agents["a1"]?.samples, 25)
        XCTAssertEqual(h.agents["a1"]?.allocated, Resources(), "nothing offered or running")
        let (fid, made) = m.onSubscribe(FrameworkInfo(name: "f"), now: 30)
        let offer = offers(made)[0]
        _ = try m.onCall(
            .accept(fid, offerIds: [offer.id], tasks: [task("t1", on: "a1", cpus: 1, mem: 512)], refuseSeconds: 5), now: 31)
        h.record(m, now: 31)
        XCTAssertEqual(h.agents["a1"]?.allocated, Resources(cpus: 1, mem: 512), "the task, the rest declined by the accept")
        XCTAssertEqual(h.agents["a1"]?.peakRate ?? 0, 0.25, accuracy: 1e-9, "1 of 4 cpus, 512 of 4,096 MiB")
        XCTAssertEqual(AllocationHistory().capacity, 8_640, "a day at 10 s")
    }

    /// Many random clusters: agents, roles with weights, quotas and reservations, frameworks that
    /// take what they are offered in fixed-size tasks. After every step: no agent over-committed,
    /// no reservation used by another role, no role past its limit, offers only for served roles.
    func testRandomizedClustersKeepTheAllocatorsInvariants() throws {
        for seed in 1...150 {
            var rng = SeededRandom(seed: UInt64(seed))
            var m = MasterCore(now: 0, idPrefix: "s\(seed)")
            let roles = ["r0", "r1", "r2", "r3"].prefix(Int(rng.next() % 3) + 2).map { $0 }
            for r in roles where rng.next() % 2 == 0 { try m.setWeight(r, Double(rng.next() % 4 + 1)) }
            for i in 0..<Int(rng.next() % 6 + 1) {
                _ = m.onRegisterAgent(
                    agent("a\(i)", cpus: Double(rng.next() % 8 + 1), mem: Double(rng.next() % 8 + 1) * 1024), tasks: [], now: 0)
                if rng.next() % 3 == 0 {
                    _ = try? m.reserve(
                        Reservation(
                            agentId: "a\(i)", role: roles[Int(rng.next() % UInt64(roles.count))],
                            resources: Resources(cpus: 1, mem: 512)))
                }
            }
            for r in roles where rng.next() % 3 == 0 {
                try m.setQuota(
                    r, Quota(guarantee: Resources(cpus: 1), limit: Resources(cpus: Double(rng.next() % 6 + 2), mem: 1e9)))
            }
            var served: [String: [String]] = [:]
            for r in roles {
                let (fid, _) = m.onSubscribe(FrameworkInfo(name: r, roles: [r]), now: 0)
                served[fid] = [r]
            }
            var n = 0
            for step in 1...40 {
                let now = Instant(secondsSince1970: Double(step))
                for o in offers(m.onTick(now: now)) where m.offers[o.id] != nil {
                    XCTAssertTrue(
                        served[o.frameworkId]?.contains(o.role ?? "*") == true, "seed \(seed): offer for a role not served")
                    var left = o.resources
                    var tasks: [TaskInfo] = []
                    while left.cpus >= 0.5 - 1e-9, left.mem >= 256 - 1e-9 {
                        n += 1
                        tasks.append(task("t\(n)", on: o.agentId, cpus: 0.5, mem: 256))
                        left = left - Resources(cpus: 0.5, mem: 256)
                    }
                    if rng.next() % 5 == 0 {
                        _ = try m.onCall(
                            .decline(o.frameworkId, offerIds: [o.id], refuseSeconds: Double(rng.next() % 3)), now: now)
                    } else {
                        _ = try m.onCall(.accept(o.frameworkId, offerIds: [o.id], tasks: tasks, refuseSeconds: 0), now: now)
                    }
                    try check(m, seed: seed)
                }
                // Some tasks end, freeing room the allocator must see at once.
                for a in m.agents.values.sorted(by: { $0.info.id < $1.info.id }) where rng.next() % 3 == 0 {
                    guard let t = a.tasks.keys.sorted().first else { continue }
                    _ = m.onAgentUpdates(
                        agentId: a.info.id,
                        [
                            TaskStatus(
                                taskId: t, agentId: a.info.id, frameworkId: nil, state: .finished,
                                uuid: "u\(t)", timestamp: now.secondsSince1970)
                        ], now: now)
                    try check(m, seed: seed)
                }
                for a in m.agents.keys { _ = m.onHeartbeat(agentId: a, now: now) }
            }
        }
    }

    func check(_ m: MasterCore, seed: Int) throws {
        var byRole: [String: Resources] = [:]
        for a in m.agents.values {
            var used: [String: Resources] = [:]
            for t in a.tasks.values where !t.state.isTerminal {
                used[t.info.role ?? "*", default: Resources()] =
                    used[t.info.role ?? "*", default: Resources()] + t.info.resources.scalars
            }
            for o in m.offers.values where o.agentId == a.info.id {
                used[o.role ?? "*", default: Resources()] = used[o.role ?? "*", default: Resources()] + o.resources.scalars
            }
            let all = used.values.reduce(Resources()) { $0 + $1 }
            XCTAssertTrue(a.info.resources.scalars.contains(all), "seed \(seed): agent \(a.info.id) over-committed: \(all)")
            // The kept share (what the allocation history reads) is the ledger's, never stale.
            if a.reachable {
                XCTAssertEqual(
                    m.shares[a.info.id]?.byRole, m.ledger(a.info.id)?.used, "seed \(seed): stale share of \(a.info.id)")
            }
            // What each role uses beyond its own reservation must fit in the unreserved part.
            let reserved = m.policy.reservations[a.info.id] ?? [:]
            let unreserved = reserved.values.reduce(a.info.resources.scalars) { $0 - $1 }
            let overflow = used.reduce(Resources()) { $0 + ($1.value - (reserved[$1.key] ?? Resources())) }
            XCTAssertTrue(unreserved.contains(overflow), "seed \(seed): a reservation was used by another role on \(a.info.id)")
            for (r, u) in used { byRole[r] = (byRole[r] ?? Resources()) + u }
        }
        for (role, q) in m.policy.quotas {
            if let limit = q.limit {
                XCTAssertTrue(limit.contains(byRole[role] ?? Resources()), "seed \(seed): \(role) past its limit")
            }
        }
        // The sums kept step by step are the sums worked out from scratch.
        var fresh = m
        fresh.recomputeSums()
        func close(_ a: Resources, _ b: Resources) -> Bool {
            abs(a.cpus - b.cpus) < 1e-6 && abs(a.mem - b.mem) < 1e-3 && abs(a.disk - b.disk) < 1e-3
        }
        XCTAssertTrue(close(m.sums.total, fresh.sums.total), "seed \(seed): total drifted")
        XCTAssertTrue(close(m.sums.unreservedFree, fresh.sums.unreservedFree), "seed \(seed): unreserved free drifted")
        for role in Set(m.sums.byRole.keys).union(fresh.sums.byRole.keys) {
            XCTAssertTrue(
                close(m.sums.byRole[role] ?? Resources(), fresh.sums.byRole[role] ?? Resources()), "seed \(seed): \(role) drifted"
            )
        }
        for fid in Set(m.sums.byFramework.keys).union(fresh.sums.byFramework.keys) {
            XCTAssertTrue(
                close(m.sums.byFramework[fid] ?? Resources(), fresh.sums.byFramework[fid] ?? Resources()),
                "seed \(seed): \(fid) drifted")
        }
    }
}
