import PacerModel

/// A scheduler call the master refuses as a whole (HTTP 400 with this message).
public struct MasterCallError: Error, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

extension MasterCore {
    /// A framework subscribes; with a known id it fails over and keeps its tasks.
    public mutating func onSubscribe(_ info: FrameworkInfo, now: Instant) -> (frameworkId: String, [MasterDirective]) {
        let id = info.id ?? nextId("framework")
        var entry = frameworks[id] ?? FrameworkEntry(info: info, connected: true)
        entry.info = info
        entry.info.id = id
        entry.connected = true
        entry.disconnectedAt = nil
        entry.suppressed = false
        entry.refusals = [:]
        frameworks[id] = entry
        // A new subscription has none of what went to the old one: resends go through again.
        forwarded = forwarded.filter { $0.value.frameworkId != id }
        var out: [MasterDirective] = [
            .toFramework(
                id,
                .subscribed(
                    id, heartbeat: settings.frameworkHeartbeat.seconds, capabilities: [SchedulerEvent.Capability.killMany]))
        ]
        dropOffers(of: id)
        allocateAll = true
        out += allocate(now: now)
        return (id, out)
    }

    /// The framework's stream closed. It keeps its tasks for its failover timeout; its offers go
    /// back to the pool (nothing to send: the stream they would be rescinded on is gone).
    public mutating func onDisconnected(frameworkId: String, now: Instant) -> [MasterDirective] {
        guard frameworks[frameworkId]?.connected == true else { return [] }
        frameworks[frameworkId]?.connected = false
        frameworks[frameworkId]?.disconnectedAt = now
        dropOffers(of: frameworkId)
        return []
    }

    public mutating func onCall(_ call: SchedulerCall, now: Instant) throws(MasterCallError) -> [MasterDirective] {
        guard let fid = call.frameworkId, frameworks[fid]?.connected == true else {
            throw MasterCallError("framework \(call.frameworkId ?? "(none)") is not subscribed: SUBSCRIBE first")
        }
        switch call.type {
        case .subscribe: throw MasterCallError("SUBSCRIBE opens a stream; send it on its own request")
        case .accept:
            guard let a = call.accept else { throw MasterCallError("ACCEPT needs 'accept'") }
            return accept(fid, a, now: now)
        case .decline:
            guard let d = call.decline else { throw MasterCallError("DECLINE needs 'decline'") }
            for id in d.offerIds { if let o = offers[id], o.frameworkId == fid { release(o, fid, d.filters, now: now) } }
            return allocate(now: now)
        case .kill:
            if let ks = call.kills, call.kill == nil {
                guard ks.count <= Self.maxKillsPerCall else {
                    throw MasterCallError("KILL names \(ks.count) tasks in 'kills'; at most \(Self.maxKillsPerCall) a call")
                }
                return killsMerged(ks.flatMap { kill(fid, $0.taskId, agentId: $0.agentId, now: now) })
            }
            guard let k = call.kill, call.kills == nil else { throw MasterCallError("KILL needs either 'kill' or 'kills'") }
            return kill(fid, k.taskId, agentId: k.agentId, now: now)
        case .acknowledge:
            guard let a = call.acknowledge else { throw MasterCallError("ACKNOWLEDGE needs 'acknowledge'") }
            return acknowledge(a.updates)
        case .reconcile:
            return reconcile(fid, call.reconcile?.tasks ?? [], now: now)
        case .revive:
            frameworks[fid]?.suppressed = false
            if call.revive?.revocable == false {
                let kept = frameworks[fid]?.refusals.filter { Self.isRevocableKey($0.key) } ?? [:]
                frameworks[fid]?.refusals = kept
            } else {
                frameworks[fid]?.refusals = [:]
            }
            reviveRequested = true
            return allocate(now: now)
        case .suppress:
            frameworks[fid]?.suppressed = true
            return []
        case .teardown:
            return teardown(fid)
        }
    }

    /// Offers of a framework that resubscribed, left or was torn down: it holds none any more.
    private mutating func dropOffers(of fid: String) {
        for o in offers.values.filter({ $0.frameworkId == fid }) { removeOffer(o.id) }
    }

    /// Refusals are per agent and role (and revocable apart): a framework that has no use for one
    /// role's offers must not hold back its offers of another role on that agent.
    static func refusalKey(_ agentId: String, role: String?, revocable: Bool) -> String {
        revocable ? agentId + Self.revocableSuffix : agentId + "|" + (role ?? Role.any)
    }

    /// Two bars: a role name is never empty, so no role's key ends this way.
    private static let revocableSuffix = "||revocable"

    static func isRevocableKey(_ key: String) -> Bool { key.hasSuffix(revocableSuffix) }

    /// Longest refusal honoured: a framework's `refuse_seconds` of 1e300 made `Duration` trap and
    /// took the master down (any value is valid JSON); a year is "until a REVIVE" in practice.
    static let longestRefusal: Duration = .seconds(365 * 24 * 3600)

    static func refusal(_ seconds: Double) -> Duration {
        guard seconds.isFinite, seconds < longestRefusal.seconds else { return seconds > 0 ? longestRefusal : .zero }
        return .seconds(max(0, seconds))
    }

    private mutating func release(_ offer: Offer, _ fid: String, _ filters: Filters?, now: Instant) {
        removeOffer(offer.id)
        let refuse = filters.map { Self.refusal($0.refuseSeconds) } ?? settings.defaultRefusal
        if refuse > .zero {
            frameworks[fid]?.refusals[Self.refusalKey(offer.agentId, role: offer.role, revocable: offer.revocable == true)] =
                now + refuse
            refusalWakeups.add(offer.agentId, at: now + refuse)
        }
    }

    mutating func accept(_ fid: String, _ a: SchedulerCall.Accept, now: Instant) -> [MasterDirective] {
        let rescinded = reinstateLapsed(a.offerIds, fid, now: now)
        return rescinded + acceptOutstanding(fid, a, now: now)
    }

    private mutating func acceptOutstanding(_ fid: String, _ a: SchedulerCall.Accept, now: Instant) -> [MasterDirective] {
        let tasks = a.operations.compactMap(\.launch).flatMap(\.taskInfos)
        let valid = a.offerIds.compactMap { offers[$0] }.filter { $0.frameworkId == fid }
        guard !valid.isEmpty, valid.count == a.offerIds.count, Set(valid.map(\.agentId)).count == 1,
            let agentId = valid.first?.agentId, let agent = agents[agentId], agent.reachable
        else {
            for o in valid { removeOffer(o.id) }
            // A task the master already has came with an earlier copy of this ACCEPT (a retried or
            // duplicated call): it was launched, so "dropped" would make the framework forget it.
            return tasks.filter { task($0.taskId) == nil }.flatMap { t in
                send(
                    fid,
                    .update(
                        TaskStatus(
                            taskId: t.taskId, agentId: t.agentId, frameworkId: fid,
                            state: .dropped,
                            message:
                                "offer no longer valid (rescinded, used, from several agents, or lapsed and its resources taken)",
                            reason: "REASON_INVALID_OFFERS", timestamp: now.secondsSince1970)))
            } + allocate(now: now)
        }
        var available = valid.dropFirst().reduce(valid[0].resources) { $0 + $1.resources }
        for o in valid { release(o, fid, a.filters, now: now) }
        var launched: [TaskInfo] = []
        var out: [MasterDirective] = []
        for var t in tasks {
            // The offer decides which allocation a task uses, not the framework's say-so.
            t.role = valid[0].role
            t.revocable = valid[0].revocable
            if let existing = task(t.taskId), existing.task.info == t { continue }  // a duplicate of a launch already made
            let problem: String? =
                task(t.taskId) != nil
                ? "task id \(t.taskId) is already in use"
                : t.agentId != agentId
                    ? "task names agent \(t.agentId) but the offer is from \(agentId)"
                    : !(t.resources.cpus > 0 && t.resources.mem > 0)
                        ? "a task needs cpus > 0 and mem > 0"
                        : !available.contains(t.resources)
                            ? "task needs \(describe(t.resources)) but the offer has \(describe(available)) left" : nil
            if let problem {
                out += send(
                    fid,
                    .update(
                        TaskStatus(
                            taskId: t.taskId, agentId: agentId, frameworkId: fid, state: .error,
                            message: problem, reason: "REASON_TASK_INVALID", timestamp: now.secondsSince1970)))
                continue
            }
            available = available - t.resources
            setTask(t.taskId, on: agentId, MasterTask(info: t, frameworkId: fid, state: .staging))
            launched.append(t)
        }
        if !launched.isEmpty { out.append(.toAgent(agentId: agentId, url: agent.info.url, .launch(framework: fid, launched))) }
        out += preemptBatch(agentId)
        touch(agentId)
        return out + allocate(now: now)
    }

    /// Services come first: when their tasks (cpus as expected from their use) and the agent's batch
    /// tasks no longer fit together, batch tasks are killed (largest first, so as few as possible).
    private mutating func preemptBatch(_ agentId: String) -> [MasterDirective] {
        guard let agent = agents[agentId] else { return [] }
        let live = agent.tasks.values.filter { !$0.state.isTerminal }
        var load = live.filter { $0.info.revocable != true }.reduce(Resources()) { sum, t in
            sum + Resources(cpus: agent.expectedCpus(t), mem: t.info.resources.mem, disk: t.info.resources.disk)
        }
        let batch = live.filter { $0.info.revocable == true && !$0.preempted }
            .sorted { ($0.info.resources.cpus, $0.info.taskId) > ($1.info.resources.cpus, $1.info.taskId) }
        load = batch.reduce(load) { $0 + $1.info.resources.scalars }
        var out: [MasterDirective] = []
        for t in batch where !agent.info.resources.scalars.contains(load) {
            load = load - t.info.resources.scalars
            agents[agentId]?.tasks[t.info.taskId]?.preempted = true
            out.append(
                .toAgent(
                    agentId: agentId, url: agent.info.url,
                    .kill(
                        framework: t.frameworkId, task: t.info.taskId,
                        reason: "REASON_TASK_PREEMPTED",
                        message: "preempted: a service task needed the resources of this best-effort task")))
        }
        return out
    }

    func describe(_ r: Resources) -> String {
        "cpus \(r.cpus), mem \(r.mem), disk \(r.disk), ports \(r.ports.map { "\($0.begin)-\($0.end)" })"
    }

    /// The most tasks one KILL call may name (`kills`): Pacer's framework sends at most 32.
    public static let maxKillsPerCall = 1_000

    mutating func kill(_ fid: String, _ taskId: String, agentId: String?, now: Instant) -> [MasterDirective] {
        guard let (agent, t) = task(taskId), t.frameworkId == fid else {
            // Unknown here, but the framework names its agent: the task may run there anyway (its
            // launch arrived after the agent re-registered). Let the agent kill it or say it is gone.
            if let agentId, let agent = agents[agentId], agent.reachable {
                return [.toAgent(agentId: agentId, url: agent.info.url, .kill(framework: fid, task: taskId))]
            }
            if inReregistrationWindow(now) { return [] }
            return send(
                fid,
                .update(
                    TaskStatus(
                        taskId: taskId, agentId: nil, frameworkId: fid, state: .lost,
                        message: "kill of a task unknown to the master", reason: "REASON_RECONCILIATION",
                        timestamp: now.secondsSince1970)))
        }
        guard agent.reachable else { return [] }
        return [.toAgent(agentId: agent.info.id, url: agent.info.url, .kill(framework: fid, task: taskId))]
    }

    /// One KILL message per agent that takes `KILL_MANY`, naming all its tasks of this call, at
    /// the place of its first: per message, not per task, is what a mass kill costs master and
    /// agent (an HTTP request each way, a decode, a checkpoint) — and each message's kills come
    /// back as one UPDATE, acknowledged in one message. Other directives pass unchanged.
    func killsMerged(_ directives: [MasterDirective]) -> [MasterDirective] {
        var out: [MasterDirective] = []
        var slot: [String: (index: Int, orders: [AgentMessage.Kill])] = [:]
        for d in directives {
            guard case .toAgent(let agentId, _, let m) = d, m.type == .kill, let k = m.kill,
                agents[agentId]?.info.takesKillMany == true
            else {
                out.append(d)
                continue
            }
            if slot[agentId] == nil {
                slot[agentId] = (out.count, [])
                out.append(d)
            }
            slot[agentId]!.orders.append(k)
        }
        for (agentId, s) in slot where s.orders.count > 1 {
            guard case .toAgent(_, let url, _) = out[s.index] else { continue }
            out[s.index] = .toAgent(agentId: agentId, url: url, .kill(s.orders))
        }
        return out
    }

    mutating func acknowledge(_ acks: [Acknowledgement]) -> [MasterDirective] {
        for a in acks where forwarded[a.taskId]?.uuid == a.uuid { forwarded[a.taskId] = nil }
        return Dictionary(grouping: acks, by: \.agentId).sorted { $0.key < $1.key }.compactMap { agentId, list in
            guard let agent = agents[agentId], agent.reachable else { return nil }
            return .toAgent(agentId: agentId, url: agent.info.url, .acknowledge(list))
        }
    }

    /// Explicit (named tasks) or implicit (none named: everything the master knows of this framework).
    func reconcile(_ fid: String, _ refs: [TaskRef], now: Instant) -> [MasterDirective] {
        func status(_ agent: AgentEntry, _ t: MasterTask) -> TaskStatus {
            var s = TaskStatus(
                taskId: t.info.taskId, agentId: agent.info.id, frameworkId: fid, state: t.state,
                reason: "REASON_RECONCILIATION", timestamp: now.secondsSince1970)
            (s.healthy, s.health, s.ready) = (t.healthy, t.health, t.ready)
            return s
        }
        if refs.isEmpty {
            return agents.values.sorted { $0.info.id < $1.info.id }.flatMap { agent in
                agent.tasks.values.filter { $0.frameworkId == fid }.sorted { $0.info.taskId < $1.info.taskId }
                    .flatMap { send(fid, .update(status(agent, $0))) }
            }
        }
        return refs.flatMap { ref -> [MasterDirective] in
            if let (agent, t) = task(ref.taskId), t.frameworkId == fid { return send(fid, .update(status(agent, t))) }
            // Silence while the task's agent may still re-register after a master restart: "lost"
            // would be a lie. An agent that is back has told us all its tasks: this one is not there.
            if inReregistrationWindow(now) && ref.agentId.flatMap({ agents[$0]?.reachable }) != true { return [] }
            return send(
                fid,
                .update(
                    TaskStatus(
                        taskId: ref.taskId, agentId: ref.agentId, frameworkId: fid, state: .lost,
                        message: "task unknown to the master", reason: "REASON_RECONCILIATION", timestamp: now.secondsSince1970)))
        }
    }

    mutating func teardown(_ fid: String) -> [MasterDirective] {
        var out: [MasterDirective] = []
        for agent in agents.values.sorted(by: { $0.info.id < $1.info.id }) where agent.reachable {
            for t in agent.tasks.values.sorted(by: { $0.info.taskId < $1.info.taskId }) where t.frameworkId == fid {
                out.append(.toAgent(agentId: agent.info.id, url: agent.info.url, .kill(framework: fid, task: t.info.taskId)))
            }
        }
        dropOffers(of: fid)
        frameworks[fid] = nil
        return out
    }
}
