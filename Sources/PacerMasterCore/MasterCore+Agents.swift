import PacerModel

extension MasterCore {
    /// An agent registers, or re-registers with the tasks it runs (after its or the master's restart).
    public mutating func onRegisterAgent(
        _ info: AgentInfo, tasks reported: [AgentCall.RunningTask],
        boot: String? = nil, sequence: Int? = nil, now: Instant
    ) -> [MasterDirective] {
        if let boot, let sequence {
            // Boots sort by start time: an older boot's registration, or an older one of this boot, is stale.
            if let last = registrations[info.id], (boot, sequence) <= (last.boot, last.sequence) { return [] }
            registrations[info.id] = (boot, sequence)
        }
        var out = rescindOffers(agentId: info.id)
        let previous = agents[info.id]
        var tasks: [String: MasterTask] = [:]
        for r in reported where !r.state.isTerminal {
            tasks[r.task.taskId] = MasterTask(info: r.task, frameworkId: r.frameworkId, state: r.state)
            if frameworks[r.frameworkId] == nil {
                // Known only through its tasks (the master restarted): keep them until it re-subscribes.
                frameworks[r.frameworkId] = FrameworkEntry(
                    info: FrameworkInfo(id: r.frameworkId, name: "unknown"),
                    connected: false, disconnectedAt: now)
            }
            if previous?.reachable == false {
                // Back from a partition: tell the framework what is really running; it decides.
                out += send(
                    r.frameworkId,
                    .update(
                        TaskStatus(
                            taskId: r.task.taskId, agentId: info.id,
                            frameworkId: r.frameworkId, state: r.state, message: "agent re-registered",
                            reason: "REASON_AGENT_REREGISTERED", timestamp: now.secondsSince1970)))
            }
        }
        // A task the agent reports ended is not lost: the agent's own update, with how it ended, follows.
        let reportedIds = Set(reported.map(\.task.taskId))
        for (id, t) in (previous?.tasks ?? [:]).sorted(by: { $0.key < $1.key })
        where !reportedIds.contains(id) && !t.state.isTerminal {
            out += send(
                t.frameworkId,
                .update(
                    TaskStatus(
                        taskId: id, agentId: info.id, frameworkId: t.frameworkId,
                        state: .lost, message: "the agent re-registered without this task", reason: "REASON_AGENT_RESTARTED",
                        timestamp: now.secondsSince1970)))
        }
        for id in (previous?.tasks ?? [:]).keys { taskAgent[id] = nil }
        agents[info.id] = AgentEntry(info: info, lastSeen: now, reachable: true, tasks: tasks)
        for id in tasks.keys { taskAgent[id] = info.id }
        let interval = heartbeatInterval
        agents[info.id]?.heartbeatInterval = interval
        expiresNoEarlierThan(now, interval: interval)
        touch(info.id)
        return out + allocate(now: now)
    }

    /// What a heartbeat's sender is told.
    public enum HeartbeatAnswer: Sendable, Equatable {
        /// Recorded: heartbeat again within the interval.
        case recorded
        /// This master does not know the agent (it restarted, or declared the agent unreachable):
        /// register again, with the tasks.
        case registerAgain
    }

    /// `usage`: cores each task used lately, for the idle capacity offered as revocable.
    public mutating func onHeartbeat(agentId: String, usage: [String: Double]? = nil, now: Instant) -> HeartbeatAnswer {
        guard agents[agentId]?.reachable == true else { return .registerAgain }
        agents[agentId]?.lastSeen = now
        let interval = heartbeatInterval
        agents[agentId]?.heartbeatInterval = interval
        expiresNoEarlierThan(now, interval: interval)
        if let usage, usage != agents[agentId]?.cpuUsage {
            // Idle capacity lent as revocable follows measured use: the agent is looked at again
            // (at most once per heartbeat, and heartbeats are capped per second).
            agents[agentId]?.cpuUsage = usage
            dirty.insert(agentId)
        }
        return .recorded
    }

    /// How often agents should heartbeat now: the base interval, stretched so that all of them
    /// together send at most `maxHeartbeatsPerSecond`.
    public var heartbeatInterval: Duration {
        max(settings.heartbeat, .seconds(Double(agents.count) / settings.maxHeartbeatsPerSecond))
    }

    /// Silence after which an agent is unreachable: the configured timeout, plus three of its
    /// intervals' stretch beyond the base one.
    func timeout(_ agent: AgentEntry) -> Duration { timeout(interval: agent.heartbeatInterval) }

    private func timeout(interval: Duration) -> Duration {
        settings.agentTimeout + max(.zero, interval - settings.heartbeat) * 3
    }

    /// An agent just heard from, told `interval`, may expire from `now + timeout` on.
    private mutating func expiresNoEarlierThan(_ now: Instant, interval: Duration) {
        let deadline = now + timeout(interval: interval)
        if deadline < nextExpiry { nextExpiry = deadline }
    }

    /// Status updates from an agent: recorded, then forwarded to the owning framework.
    /// The agent resends until the framework acknowledges, so a lost forward costs only time.
    public mutating func onAgentUpdates(agentId: String, _ statuses: [TaskStatus], now: Instant) -> [MasterDirective] {
        guard agents[agentId]?.reachable == true else { return [] }
        agents[agentId]?.lastSeen = now
        var out: [MasterDirective] = []
        var freed = false
        for status in statuses {
            var frameworkId = status.frameworkId
            if var t = agents[agentId]?.tasks[status.taskId] {
                frameworkId = t.frameworkId
                t.state = status.state
                t.healthy = status.healthy ?? t.healthy
                t.health = status.health ?? t.health
                t.ready = status.ready ?? t.ready
                if status.state.isTerminal {
                    setTask(status.taskId, on: agentId, nil)
                    freed = true
                } else {
                    setTask(status.taskId, on: agentId, t)
                }
            }
            if let frameworkId, firstForward(status, to: frameworkId, now: now) { out += send(frameworkId, .update(status)) }
        }
        guard freed else { return out }
        touch(agentId)
        return out + allocate(now: now)
    }

    /// How long a forwarded update counts as on its way: a resend of it within this time is not
    /// forwarded again.
    static let resendWindow: Duration = .seconds(30)

    /// Whether to forward this update: not when the same one (same uuid) went to the framework's
    /// current subscription less than `resendWindow` ago and is not acknowledged yet. An agent
    /// resends its unacknowledged head after 10 s, doubling to 30 s (every 2–10 s when this was measured); a framework behind by more than that (5,000
    /// tasks rolling on a 2-core machine: 4,000–6,000 updates waiting) was sent every update two
    /// or three times, each one decoded, applied and acknowledged again — work that kept it
    /// behind. What the window costs: an update whose ACKNOWLEDGE was lost on its way to the
    /// master is acknowledged up to 30 s later; a framework that subscribes again (its stream
    /// was lost, or another replica took over) gets every resend at once.
    mutating func firstForward(_ s: TaskStatus, to fid: String, now: Instant) -> Bool {
        guard let uuid = s.uuid, frameworks[fid]?.connected == true else { return true }
        if let f = forwarded[s.taskId], f.uuid == uuid, f.frameworkId == fid, now - f.at < Self.resendWindow {
            resendsNotForwarded += 1
            return false
        }
        forwarded[s.taskId] = ForwardedUpdate(uuid: uuid, frameworkId: fid, at: now)
        return true
    }

    /// Entries whose window passed (an update never acknowledged: its framework went away).
    mutating func pruneForwarded(now: Instant) {
        guard now - lastForwardedPrune >= Self.resendWindow else { return }
        lastForwardedPrune = now
        forwarded = forwarded.filter { now - $0.value.at < Self.resendWindow }
    }

    /// An agent reports a live task the master has no record of (its launch arrived after the agent
    /// re-registered): the agent must register again, so the master learns the task and can kill it.
    public func reportsUnknownTasks(agentId: String, _ statuses: [TaskStatus]) -> Bool {
        statuses.contains { !$0.state.isTerminal && agents[agentId]?.tasks[$0.taskId] == nil }
    }

    /// The shell could not deliver a LAUNCH: the tasks never started.
    public mutating func onLaunchUndeliverable(
        agentId: String, taskIds: [String], reason: String,
        now: Instant
    ) -> [MasterDirective] {
        var out: [MasterDirective] = []
        for id in taskIds {
            guard let t = agents[agentId]?.tasks[id], t.state == .staging else { continue }
            setTask(id, on: agentId, nil)
            out += send(
                t.frameworkId,
                .update(
                    TaskStatus(
                        taskId: id, agentId: agentId, frameworkId: t.frameworkId,
                        state: .dropped, message: "could not reach the agent: \(reason)", reason: "REASON_AGENT_UNREACHABLE",
                        timestamp: now.secondsSince1970)))
        }
        touch(agentId)
        return out + allocate(now: now)
    }

    /// Marks silent agents unreachable and tells frameworks about their tasks: the longest silent
    /// first, as many as `settings.agentRemovalRate` permits; the others stay reachable until a
    /// permit comes or they are heard from.
    mutating func expireAgents(now: Instant) -> [MasterDirective] {
        var out: [MasterDirective] = []
        // Asked every tick, scans only once a deadline may have passed: scanning every agent per
        // tick (copying each entry) was 6 % of the master's CPU at 2,000 agents with heartbeats only.
        guard now >= nextExpiry else { return [] }
        var overdue: [(deadline: Instant, id: String)] = []
        var next = Instant.distantFuture
        for (id, agent) in agents where agent.reachable {
            let deadline = agent.lastSeen + timeout(agent)
            if now > deadline { overdue.append((deadline, id)) } else if deadline < next { next = deadline }
        }
        overdue.sort { ($0.deadline, $0.id) < ($1.deadline, $1.id) }
        var permitted = 0
        while permitted < overdue.count, removals.take(now: now) { permitted += 1 }
        unreachableDeferred = overdue.count - permitted
        nextExpiry = unreachableDeferred > 0 ? min(next, removals.nextPermit(now: now)) : next
        for id in overdue.prefix(permitted).map(\.id).sorted() {
            guard let agent = agents[id] else { continue }
            agents[id]?.reachable = false
            unreachableMarks += 1
            out += rescindOffers(agentId: id)
            for (taskId, t) in agent.tasks.sorted(by: { $0.key < $1.key }) {
                agents[id]?.tasks[taskId]?.state = .unreachable
                out += send(
                    t.frameworkId,
                    .update(
                        TaskStatus(
                            taskId: taskId, agentId: id, frameworkId: t.frameworkId,
                            state: .unreachable,
                            message: "agent \(agent.info.hostname) missed heartbeats for "
                                + "\(Int(settings.agentTimeout.seconds)) s", reason: "REASON_AGENT_UNREACHABLE",
                            timestamp: now.secondsSince1970)))
            }
            for f in frameworks.keys.sorted() { out += send(f, .failure(agent: id)) }
            touch(id)
        }
        return out
    }

}
