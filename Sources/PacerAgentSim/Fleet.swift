import AsyncHTTPClient
import Foundation
import HeapModule
import Logging
import PacerAgentCore
import PacerClient
import PacerModel

/// Simulated agents: each one the real agent core (task lifecycle, status updates retried until
/// acknowledged) behind its own id and HTTP client, with process lifetimes played by a timer
/// queue. One actor and one queue for the whole fleet, so ten thousand agents cost bookkeeping,
/// not ten thousand event loops; what leaves it is real HTTP to the master.
public actor Fleet {
    struct Member {
        var info: AgentInfo
        var core: AgentCore
        let clients: [MasterClient]
        let http: HTTPClient
        /// Register or heartbeat, with which master, when (shared with real agents).
        var session = MasterSession()
        var master: Int { session.master }
        var registered: Bool { session.registered }
        var registrations = 0
        var heartbeat: Double
        /// A registration or heartbeat is on its way: the next waits for it.
        var calling = false
        /// The generation of its beat timers: a leader change starts a new chain of them, and
        /// the old chain's timers, still queued, are then ignored.
        var beats = 0
        var trackers: [String: [HealthTracker]] = [:]
        /// Tasks this member decided will fail their health checks.
        var unhealthy: Set<String> = []
    }

    enum Event: Sendable {
        case beat(Int)
        case tick
        case started(String)
        case exited(String, pid: Int32, ExitStatus)
        case health(String)
        case ready(String)
    }

    struct Timer: Comparable {
        var at: Instant
        var seq: Int
        var member: Int
        var event: Event
        static func < (a: Timer, b: Timer) -> Bool { (a.at, a.seq) < (b.at, b.seq) }
        static func == (a: Timer, b: Timer) -> Bool { (a.at, a.seq) == (b.at, b.seq) }
    }

    let config: FleetConfig
    let logger: Logger
    var members: [Member] = []
    var timers = Heap<Timer>()
    var seq = 0
    var nextPid: Int32 = 1000
    var rng: SeededRandom
    /// Updates produced since the last flush, per member: one UPDATE call each per step.
    var outbox: [Int: [TaskStatus]] = [:]
    let boot = String(format: "%015llu-sim", UInt64(Date().timeIntervalSince1970 * 1000))

    public init(config: FleetConfig, logger: Logger) {
        self.config = config
        self.logger = logger
        rng = SeededRandom(seed: config.seed)
        let now = Self.now
        for n in 0..<config.agents {
            var attributes = config.attributes
            attributes["rack"] = "r\(n % max(1, config.racks))"
            attributes["zone"] = "z\(n % max(1, config.zones))"
            let info = AgentInfo(
                id: "sim-\(config.port)-\(n)", hostname: "sim-\(config.port)-\(n)",
                url: "http://\(config.host):\(config.port)/agents/\(n)", resources: config.resources, attributes: attributes)
            // Its own client, so its own connection to the master, as a real agent on its own machine
            // has; redirects not followed, as the real agent's (`MasterClient.agentCall`).
            let http = HTTPClient(
                eventLoopGroupProvider: .singleton,
                configuration: .init(redirectConfiguration: .disallow, timeout: .init(connect: .milliseconds(300))))
            let clients = config.masterURLs.map { url in
                config.agentSecret.map { URLCredentials.embed("agent:" + $0, in: url) } ?? url
            }.map {
                MasterClient(baseURL: $0, transport: HTTPTransport(client: http, timeout: .seconds(5)))
            }
            members.append(
                Member(
                    info: info, core: AgentCore(agentId: info.id, idPrefix: "sim\(n)b\(boot.suffix(6))"),
                    clients: clients, http: http, heartbeat: config.heartbeatSeconds))
            // Every agent registers at once (the storm a cluster-wide restart makes), then ticks.
            timers.insert(Timer(at: now, seq: 2 * n, member: n, event: .beat(0)))
            timers.insert(Timer(at: now.addingTimeInterval(Double(n % 1000) / 1000), seq: 2 * n + 1, member: n, event: .tick))
        }
        seq = 2 * config.agents
    }

    static var now: Instant { SteadyClock.instant }

    public var registeredCount: Int { members.filter(\.registered).count }

    /// What `/state` of agent n shows: its tasks, as a real agent's `/state` does.
    public func tasks(of n: Int) -> [AgentTask]? {
        members.indices.contains(n) ? members[n].core.tasks.values.sorted { $0.info.taskId < $1.info.taskId } : nil
    }

    /// Every live task of the fleet, by id: what "the cluster runs" means to a test or a sizing run.
    public func liveTasks() -> [String: String] {
        var out: [String: String] = [:]
        for m in members { for t in m.core.tasks.values where !t.state.isTerminal { out[t.info.taskId] = t.state.rawValue } }
        return out
    }

    public struct Summary: Codable, Sendable {
        public var agents: Int
        public var registered: Int
        public var tasks: Int
        public var running: Int
        public var pendingUpdates: Int
    }

    public func summary() -> Summary {
        var tasks = 0
        var running = 0
        var pending = 0
        for m in members {
            tasks += m.core.tasks.count
            running += m.core.tasks.values.filter { $0.state == .running }.count
            pending += m.core.state.pending.values.reduce(0) { $0 + $1.count }
        }
        return Summary(
            agents: members.count, registered: registeredCount, tasks: tasks, running: running, pendingUpdates: pending)
    }

    /// A message from the master to agent n.
    public func handle(_ n: Int, _ message: AgentMessage) -> Bool {
        guard members.indices.contains(n) else { return false }
        let now = Self.now
        switch message.type {
        case .launch:
            guard let l = message.launch else { return true }
            execute(n, members[n].core.onLaunch(frameworkId: l.frameworkId, l.tasks, now: now), now: now)
        case .kill:
            execute(n, members[n].core.onKill(message.killOrders, now: now), now: now)
        case .acknowledge:
            execute(n, members[n].core.onAcknowledged(message.acknowledge?.updates ?? [], now: now), now: now)
        }
        flush()
        return true
    }

    /// Fires what is due; returns seconds until the next timer.
    func step() -> Double {
        let now = Self.now
        while let first = timers.min, first.at <= now {
            _ = timers.removeMin()
            fire(first, now: now)
        }
        flush()
        return (timers.min?.at ?? now.addingTimeInterval(1)).timeIntervalSince(now)
    }

    /// Runs until cancelled, then closes every member's HTTP client.
    public func run() async {
        while !Task.isCancelled {
            let wait = step()
            try? await Task.sleep(for: .milliseconds(Int64(max(1, min(wait, 0.05) * 1000))))
        }
        for m in members { try? await m.http.shutdown() }
    }

    func schedule(_ n: Int, _ event: Event, at: Instant) {
        seq += 1
        timers.insert(Timer(at: at, seq: seq, member: n, event: event))
    }

    private func fire(_ t: Timer, now: Instant) {
        let n = t.member
        switch t.event {
        case .beat(let generation): if generation == members[n].beats { beat(n) }
        case .tick:
            execute(n, members[n].core.onTick(now: now), now: now)
            schedule(n, .tick, at: now.addingTimeInterval(1))
        case .started(let taskId): started(n, taskId, now: now)
        case .exited(let taskId, let pid, let status):
            guard members[n].core.tasks[taskId]?.pid == pid else { return }
            members[n].trackers[taskId] = nil
            members[n].unhealthy.remove(taskId)
            execute(n, members[n].core.onExited(taskId: taskId, status, now: now), now: now)
        case .health(let taskId): checkHealth(n, taskId, now: now)
        case .ready(let taskId): execute(n, members[n].core.onReady(taskId: taskId, now: now), now: now)
        }
    }

    /// A task "starts": it gets a pid and its fate (fail later, finish later, fail its checks).
    func started(_ n: Int, _ taskId: String, now: Instant) {
        guard let task = members[n].core.tasks[taskId], task.pid == nil, task.kill == nil else { return }
        nextPid += 1
        let pid = nextPid
        execute(n, members[n].core.onSpawned([(taskId, .success(pid))], now: now), now: now)
        if Double.random(in: 0..<1, using: &rng) < config.failureRate {
            schedule(n, .exited(taskId, pid: pid, .exited(1)), at: now.addingTimeInterval(Double.random(in: 1...60, using: &rng)))
        } else if let after = config.exitAfterSeconds {
            schedule(n, .exited(taskId, pid: pid, .exited(0)), at: now.addingTimeInterval(after))
        }
        if let checks = task.info.healthChecks, !checks.isEmpty {
            members[n].trackers[taskId] = checks.map { HealthTracker(check: $0, taskId: taskId, startedAt: now) }
            if Double.random(in: 0..<1, using: &rng) < config.unhealthyRate { members[n].unhealthy.insert(taskId) }
            schedule(n, .health(taskId), at: now.addingTimeInterval(config.healthyAfterSeconds))
        }
        if let checks = task.info.readinessChecks, !checks.isEmpty {
            schedule(n, .ready(taskId), at: now.addingTimeInterval(config.healthyAfterSeconds))
        }
    }

    /// One round of a task's health checks: every check passes, or (an unhealthy task) fails; a
    /// failing task is checked again at its interval, as the real agent does, until it is killed.
    private func checkHealth(_ n: Int, _ taskId: String, now: Instant) {
        guard var trackers = members[n].trackers[taskId], members[n].core.tasks[taskId]?.state == .running else { return }
        let failing = members[n].unhealthy.contains(taskId)
        var changed = false
        for i in trackers.indices {
            changed = trackers[i].record(success: !failing, cause: failing ? "simulated failure" : nil, now: now) || changed
        }
        members[n].trackers[taskId] = trackers
        if changed { execute(n, members[n].core.onHealthChanged(taskId: taskId, trackers, now: now), now: now) }
        if failing { schedule(n, .health(taskId), at: now.addingTimeInterval(trackers.first?.check.intervalSeconds ?? 10)) }
    }

    func execute(_ n: Int, _ directives: [AgentDirective], now: Instant) {
        for d in directives {
            switch d {
            case .spawn(let tasks):
                for t in tasks { schedule(n, .started(t.taskId), at: now.addingTimeInterval(config.startDelaySeconds)) }
            case .signal(let taskId, let pid, let signal):
                let delay = signal == AgentCore.sigkill ? 0 : config.stopDelaySeconds
                schedule(n, .exited(taskId, pid: pid, .signaled(signal)), at: now.addingTimeInterval(delay))
            case .checkpoint:
                break  // nothing to recover: a restarted fleet's agents come back empty, as wiped machines do
            case .send(let statuses):
                outbox[n, default: []] += statuses
            }
        }
    }

    /// Registers, or heartbeats; the master's answer sets the next interval.
    func beat(_ n: Int) {
        guard !members[n].calling else { return schedule(n, .beat(members[n].beats), at: Self.now.addingTimeInterval(0.25)) }
        members[n].calling = true
        let m = members[n]
        let call: AgentCall
        if m.registered {
            call = .heartbeat(m.info.id)
        } else {
            members[n].registrations += 1
            call = .register(m.info, tasks: m.core.runningTasks, boot: boot, sequence: members[n].registrations)
        }
        let client = m.clients[m.master % m.clients.count]
        Task {
            let answer: Result<AgentCallAnswer, ClientError>
            do throws(ClientError) { answer = .success(try await client.agentCall(call)) } catch { answer = .failure(error) }
            await self.answered(n, call.type, answer, from: m.master)
        }
    }

    /// `from`: the master the call went to (a leader change may have named another meanwhile).
    func answered(_ n: Int, _ kind: AgentCall.Kind, _ answer: Result<AgentCallAnswer, ClientError>, from master: Int) {
        members[n].calling = false
        let now = Self.now
        // The election moved this member on while the call was out (`leaderElected` leaves members
        // with a call in flight to their answer): what came back is about the old master; register
        // with the new one now, not a heartbeat later (10 s at 2,000 agents, which was the slow
        // half of master failovers).
        guard members[n].master == master, kind == .register || members[n].registered else {
            return schedule(n, .beat(members[n].beats), at: now.addingTimeInterval(Double.random(in: 0..<0.5, using: &rng)))
        }
        let outcome: MasterSession.Outcome
        switch answer {
        case .success(let answer):
            if let interval = answer.heartbeatIntervalSeconds { members[n].heartbeat = interval }
            // Redirected by a follower: count with the master that answered.
            if let by = answer.answeredBy, let index = MasterClient.index(ofLeader: by, in: members[n].clients) {
                members[n].session.answered(by: index)
            }
            outcome = .answered(status: answer.status)
        case .failure(let error): outcome = error.noLeaderActed ? .elsewhere : .timedOut
        }
        let was = members[n].registered
        let next = members[n].session.after(
            outcome, interval: .seconds(members[n].heartbeat * Double.random(in: 0.9...1.1, using: &rng)),
            jitter: Double.random(in: 0...1, using: &rng))
        if !was && members[n].registered { execute(n, members[n].core.onRegistered(now: now), now: now) }
        // Spread over the interval, so a storm of registrations does not stay a storm of heartbeats.
        schedule(n, .beat(members[n].beats), at: now.addingTimeInterval(next.after.seconds))
    }

    /// The masters' election named `leader` ("host:port"): every agent not registered with it
    /// registers there now (spread over half a second), instead of at its next heartbeat.
    public func leaderElected(_ leader: String) {
        guard let clients = members.first?.clients else { return }
        let named = MasterClient.index(ofLeader: leader, in: clients)
        let now = Self.now
        var moved = 0
        for n in members.indices {
            if members[n].registered, members[n].master % clients.count == named { continue }
            members[n].session.reset(master: named ?? members[n].master + 1)
            moved += 1
            // One in flight answers into the new chain's state and schedules its own next beat.
            guard !members[n].calling else { continue }
            members[n].beats += 1
            schedule(n, .beat(members[n].beats), at: now.addingTimeInterval(Double.random(in: 0..<0.5, using: &rng)))
        }
        if moved > 0 { logger.info("the masters elected a leader", metadata: ["leader": "\(leader)", "agents": "\(moved)"]) }
    }

    /// Sends each member's queued updates in one call; unregistered members keep theirs for the
    /// core to resend after registering.
    func flush() {
        for (n, statuses) in outbox where !statuses.isEmpty {
            guard members[n].registered else { continue }
            let m = members[n]
            let client = m.clients[m.master % m.clients.count]
            let call = AgentCall.update(m.info.id, statuses)
            Task {
                if let answer = try? await client.agentCall(call), answer.status == 404 { await self.unregistered(n) }
            }
        }
        outbox = [:]
    }

    private func unregistered(_ n: Int) { members[n].session.reset(master: members[n].master) }
}
