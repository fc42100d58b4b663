import Foundation
import Logging
import PacerClient
import PacerMasterCore
import PacerModel
import PacerServerKit
import Synchronization

/// The master's shell: owns the core, carries out its directives (framework streams, agent
/// messages) and feeds back what happened. All state changes go through this actor.
public actor Master {
    var core: MasterCore
    let logger: Logger
    /// One open SUBSCRIBE stream per framework; `generation` tells a stale stream's end from the
    /// current one's, and calls must carry the current stream's id (`Mesos-Stream-Id`): a deposed or
    /// paused scheduler instance holding an older subscription can neither launch nor kill.
    var streams: [String: (generation: Int, streamId: String, continuation: AsyncStream<SchedulerEvent>.Continuation)] = [:]
    var generation = 0
    let outbox: AsyncStream<AgentDelivery>.Continuation
    let deliveries: AsyncStream<AgentDelivery>
    /// Set on shutdown: queued agent messages are dropped, not tried one by one against a closing cluster.
    var stopping = false
    /// Events a framework may have queued before it is dropped and must resubscribe. A framework
    /// that (re)subscribes reconciles every task twice (those it knows, then all the master has),
    /// all answered at once: with 10,000 a framework of 50,000 tasks overflowed on every
    /// resubscription, resubscribed, reconciled and overflowed again, its KILLs refused meanwhile
    /// (issue 12, seen after a master failover). This holds 100,000 tasks' reconciliation at a few
    /// hundred bytes an event.
    static let streamBound = 262_144

    /// Where the operator's weights, quotas and reservations live; nil: in memory only.
    let policyStorage: (any PolicyStorage)?
    var history: AllocationHistory
    /// Whether this master acts. A replica that does not lead redirects to the leader (or, with none
    /// known yet, answers 503 and agents and frameworks move on to the next master they know).
    /// Atomic, so the HTTP layer asks on every request (every agent heartbeat) without a hop onto
    /// this actor; it turns true once and never back (a deposed master exits).
    public nonisolated var leading: Bool { leadingFlag.load(ordering: .acquiring) }
    private nonisolated let leadingFlag: Atomic<Bool>
    var leader: String?

    init(settings: MasterSettings, policyStorage: (any PolicyStorage)?, leading: Bool, logger: Logger) async throws {
        let now = SteadyClock.instant
        self.policyStorage = policyStorage
        let policy = leading ? try await policyStorage?.load() ?? ResourcePolicy() : ResourcePolicy()
        leadingFlag = Atomic(leading)
        core = MasterCore(
            settings: settings, now: now, idPrefix: String(UInt32.random(in: .min ... .max), radix: 16), policy: policy)
        history = AllocationHistory(period: settings.statsPeriod.seconds)
        self.logger = logger
        (deliveries, outbox) = AsyncStream.makeStream(of: AgentDelivery.self)
    }

    /// Applies an operator change, then persists the policy before answering: an acknowledged
    /// change is durable; a failed write puts the previous policy back and is reported.
    private func changePolicy(_ change: (inout MasterCore) throws(MasterCallError) -> [MasterDirective]) async throws
        -> ResourcePolicy
    {
        guard leading else { throw MasterCallError(notLeading) }
        let before = core.policy
        let directives = try change(&core)
        execute(directives)
        do { try await policyStorage?.save(core.policy) } catch {
            core.restorePolicy(before)
            throw error
        }
        return core.policy
    }

    /// Elected: from now on this master acts, with the policy the previous leader left and a fresh
    /// re-registration window for agents that come over with their tasks.
    func takeOver(as me: String) async throws {
        let policy = try await policyStorage?.load() ?? ResourcePolicy()
        execute(core.onTookOver(policy: policy, now: Self.now))
        leadingFlag.store(true, ordering: .releasing)
        leader = me
        logger.info("leading master", metadata: ["policy.reservations": "\(policy.reservations.count)"])
    }

    func follow(_ leader: String?) { self.leader = leader }

    public struct Leadership: Codable, Sendable {
        /// host:port of the leading master, when known.
        public var leader: String?
        public var leading: Bool
    }
    var leadership: Leadership { Leadership(leader: leader, leading: leading) }

    /// What a follower answers instead of acting.
    public var notLeading: String {
        "this master does not lead\(leader.map { "; the leader is \($0)" } ?? ""); try another master"
    }

    public func reserve(_ r: Reservation) async throws -> ResourcePolicy {
        try await changePolicy { (c) throws(MasterCallError) in try c.reserve(r) }
    }
    public func unreserve(_ r: Reservation) async throws -> ResourcePolicy {
        try await changePolicy { (c) throws(MasterCallError) in try c.unreserve(r) }
    }
    public func setWeight(_ role: String, _ w: Double) async throws -> ResourcePolicy {
        try await changePolicy { (c) throws(MasterCallError) in
            try c.setWeight(role, w)
            return []
        }
    }
    public func setQuota(_ role: String, _ q: Quota?) async throws -> ResourcePolicy {
        try await changePolicy { (c) throws(MasterCallError) in
            try c.setQuota(role, q)
            return []
        }
    }

    func sample() { history.record(core, now: Self.now) }

    public func roles() -> [RoleStatus] {
        let allocated = core.allocatedByRole()
        var names = Set(allocated.keys).union(core.policy.weights.keys).union(core.policy.quotas.keys)
        var reserved: [String: Resources] = [:]
        for id in core.agents.keys {
            for (role, r) in core.reservations(id) { reserved[role] = (reserved[role] ?? Resources()) + r }
        }
        names.formUnion(reserved.keys)
        var frameworks: [String: [String]] = [:]
        for (id, f) in core.frameworks {
            for role in f.info.servedRoles {
                frameworks[role, default: []].append(id)
                names.insert(role)
            }
        }
        return names.sorted().map { name in
            RoleStatus(
                name: name, weight: core.policy.weight(name), quota: core.policy.quotas[name],
                allocated: allocated[name] ?? Resources(), reserved: reserved[name] ?? Resources(),
                frameworks: (frameworks[name] ?? []).sorted())
        }
    }

    /// Allocation now (total, allocated per role and resource, per agent) for Prometheus, whose own
    /// storage keeps the history; `/master/allocation` keeps the last day for those without one.
    public func metrics() -> String {
        let total = core.clusterTotal
        let byRole = core.allocatedByRole()
        func perResource(_ r: Resources) -> [(String, Double)] { [("cpus", r.cpus), ("mem", r.mem), ("disk", r.disk)] }
        var out = PrometheusText()
        out.family(
            "pacer_cluster_resources", "gauge", "Resources of reachable agents.",
            perResource(total).map { ([("resource", $0.0)], "\($0.1)") })
        out.family(
            "pacer_cluster_allocated", "gauge", "Resources held by tasks and outstanding offers, per role.",
            byRole.sorted { $0.key < $1.key }.flatMap { role, r in
                perResource(r).map { ([("role", role), ("resource", $0.0)], "\($0.1)") }
            })
        out.family(
            "pacer_agent_allocation_ratio", "gauge", "Allocated / total of an agent's most allocated resource.",
            history.agents.sorted { $0.key < $1.key }.map {
                ([("agent", $0.key)], "\($0.value.allocated.dominantShare(of: $0.value.total))")
            })
        out.family(
            "pacer_agents", "gauge", "Agents by reachability.",
            [
                ([("reachable", "true")], "\(core.agents.values.filter(\.reachable).count)"),
                ([("reachable", "false")], "\(core.agents.values.filter { !$0.reachable }.count)")
            ])
        out.family(
            "pacer_agents_marked_unreachable_total", "counter",
            "Agents declared unreachable (missed heartbeats) since this master started.",
            [([], "\(core.unreachableMarks)")])
        out.family(
            "pacer_agents_unreachable_deferred", "gauge",
            "Agents silent past their timeout, still counted reachable because --agent-removal-rate-limit has no permit left.",
            [([], "\(core.unreachableDeferred)")])
        out.family(
            "pacer_status_update_resends_not_forwarded_total", "counter",
            "Agents' resends of a status update the framework was sent less than 30 s before and has not acknowledged.",
            [([], "\(core.resendsNotForwarded)")])
        out.family(
            "pacer_launches_unconfirmed_total", "counter",
            "LAUNCHes to agents that timed out or lost their connection after being sent: their tasks stay staging until the agent reports them or the framework's launch timeout settles them.",
            [([], "\(launchesUnconfirmed)")])
        out.family(
            "pacer_allocation_agents_visited_total", "counter",
            "Agents the allocator looked at (changed, refusal ended, or a full pass): grows with changes, not with the cluster.",
            [([], "\(core.agentsVisited)")])
        out.family("pacer_offers_outstanding", "gauge", "Offers sent and not yet answered.", [([], "\(core.offers.count)")])
        return out.text
    }

    public func allocation() -> AllocationReport {
        AllocationReport(period: history.period, samples: history.ordered, agents: history.agents)
    }

    static var now: Instant { SteadyClock.instant }

    public func subscribe(_ info: FrameworkInfo) -> (
        frameworkId: String, streamId: String, generation: Int, events: AsyncStream<SchedulerEvent>
    ) {
        let (stream, continuation) = AsyncStream.makeStream(
            of: SchedulerEvent.self,
            bufferingPolicy: .bufferingOldest(Self.streamBound))
        generation += 1
        let (id, directives) = core.onSubscribe(info, now: Self.now)
        streams[id]?.continuation.finish()
        let streamId = UUID().uuidString.lowercased()
        streams[id] = (generation, streamId, continuation)
        logger.info("framework subscribed", metadata: ["framework.id": "\(id)", "framework.name": "\(info.name)"])
        execute(directives)
        return (id, streamId, generation, stream)
    }

    public func streamEnded(frameworkId: String, generation: Int) {
        guard streams[frameworkId]?.generation == generation else { return }
        streams[frameworkId] = nil
        execute(core.onDisconnected(frameworkId: frameworkId, now: Self.now))
        logger.info("framework disconnected", metadata: ["framework.id": "\(frameworkId)"])
    }

    public func handle(_ call: SchedulerCall, streamId: String?) throws(MasterCallError) {
        guard let current = streams[call.frameworkId ?? ""]?.streamId else {
            throw MasterCallError("framework \(call.frameworkId ?? "(none)") is not subscribed: SUBSCRIBE first")
        }
        guard streamId == current else {
            throw MasterCallError(
                "the stream id \(streamId.map { "'\($0)'" } ?? "(missing Mesos-Stream-Id header)") is not the framework's current subscription: a newer SUBSCRIBE replaced it"
            )
        }
        execute(try core.onCall(call, now: Self.now))
    }

    /// Returns the HTTP status for the agent (404 tells it to register again) and, for REGISTER and
    /// HEARTBEAT, the interval of its next heartbeat.
    public func handle(_ call: AgentCall) -> (status: Int, heartbeat: Double?) {
        let now = Self.now
        switch call.type {
        case .register:
            guard let r = call.register else { return (400, nil) }
            // The agent gave up waiting and registers again (`MasterSession`): this one, applied now,
            // would be replaced by the next. Heartbeats and updates that got past the door
            // (`CallerDeadlineMiddleware`) are applied however late: they say the agent was alive
            // and what its tasks did, and cost little.
            if CallerDeadline.gaveUp() { return (504, nil) }
            logger.info("agent registered", metadata: ["agent.id": "\(r.agent.id)", "tasks": "\(r.tasks.count)"])
            execute(core.onRegisterAgent(r.agent, tasks: r.tasks, boot: r.boot, sequence: r.sequence, now: now))
            return (200, core.heartbeatInterval.seconds)
        case .heartbeat:
            switch core.onHeartbeat(agentId: call.agentId, usage: call.usage, now: now) {
            case .recorded: return (200, core.heartbeatInterval.seconds)
            case .registerAgain: return (404, nil)
            }
        case .update:
            guard core.agents[call.agentId]?.reachable == true else { return (404, nil) }
            let statuses = call.update?.statuses ?? []
            let unknown = core.reportsUnknownTasks(agentId: call.agentId, statuses)
            execute(core.onAgentUpdates(agentId: call.agentId, statuses, now: now))
            return (unknown ? 404 : 202, nil)  // 404: register again, with every task
        }
    }

    func onLaunchUndeliverable(agentId: String, taskIds: [String], reason: String) {
        execute(core.onLaunchUndeliverable(agentId: agentId, taskIds: taskIds, reason: reason, now: Self.now))
    }

    /// LAUNCHes whose delivery failed after they were sent (`pacer_launches_unconfirmed_total`).
    private(set) var launchesUnconfirmed = 0
    func onLaunchUnconfirmed() { launchesUnconfirmed += 1 }

    func tick() {
        let deferred = core.unreachableDeferred
        execute(core.onTick(now: Self.now))
        if core.unreachableDeferred > 0, deferred == 0 {
            logger.warning(
                "agents silent past their timeout are waiting for --agent-removal-rate-limit before being declared unreachable",
                metadata: ["agents": "\(core.unreachableDeferred)"])
        }
    }

    func execute(_ directives: [MasterDirective]) {
        for d in directives {
            switch d {
            case .toFramework(let id, let event):
                guard let s = streams[id] else { continue }
                if case .dropped = s.continuation.yield(event) {
                    // A framework that stopped reading: drop it; it resubscribes and reconciles.
                    logger.warning("framework stream overflowed; closing it", metadata: ["framework.id": "\(id)"])
                    s.continuation.finish()
                }
            case .toAgent(let agentId, let url, let message):
                outbox.yield(AgentDelivery(agentId: agentId, url: url, message: message))
            }
        }
    }

    /// The state for a caller still waiting for it (`CallerDeadline`): it is built here, after
    /// whatever queued on this actor before it, and with every task it is the master's largest answer.
    public func stateForWaitingCaller(withTasks: Bool) throws(APIError) -> ClusterState {
        try CallerDeadline.check()
        return state(withTasks: withTasks)
    }

    public func state(withTasks: Bool = true) -> ClusterState {
        ClusterState(
            agents: core.agents.values.sorted { $0.info.id < $1.info.id }.map { a in
                ClusterState.Agent(
                    id: a.info.id, hostname: a.info.hostname, url: a.info.url, reachable: a.reachable,
                    resources: a.info.resources, used: a.used, attributes: a.info.attributes,
                    reserved: core.reservations(a.info.id),
                    tasks: !withTasks
                        ? []
                        : a.tasks.values.sorted { $0.info.taskId < $1.info.taskId }
                            .map { ClusterState.Task(id: $0.info.taskId, frameworkId: $0.frameworkId, state: $0.state) })
            },
            frameworks: core.frameworks.values.sorted { ($0.info.id ?? "") < ($1.info.id ?? "") }
                .map { ClusterState.Framework(id: $0.info.id ?? "", name: $0.info.name, connected: $0.connected) },
            outstandingOffers: core.offers.count)
    }

    /// Ends every framework stream so the HTTP server can stop.
    func closeStreams() {
        stopping = true
        for s in streams.values { s.continuation.finish() }
        streams = [:]
        outbox.finish()
    }
}

struct AgentDelivery: Sendable {
    var agentId: String
    var url: String
    var message: AgentMessage
}
