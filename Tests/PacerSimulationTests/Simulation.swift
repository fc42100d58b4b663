import Foundation
import PacerAgentCore
import PacerModel
import PacerTestKit

@testable import PacerAppsCore
@testable import PacerMasterCore

/// Master, agents and the framework core wired through a simulated network and clock.
/// Calls over HTTP may be lost, duplicated or delayed (so reordered); the subscription stream is
/// ordered but can be cut. The framework and agents crash and restart from what they persisted.
struct Simulation {
    enum Message {
        case toMaster(AgentCall)
        case call(SchedulerCall)
        case toAgent(String, AgentMessage)
        case toFramework(SchedulerEvent, stream: Int)
        case exited(agent: String, taskId: String, pid: Int32, ExitStatus)
    }
    struct Pending {
        var at: Double
        var seq: Int
        var message: Message
    }
    struct Faults {
        var loss = 0.0
        var duplication = 0.0
        var maxDelay = 0.01
        var crashes = false
        /// The leading master fails over: a new one starts empty; agents and the framework come back to it.
        var masterFailovers = false
    }

    var rng: SeededRandom
    var now = 0.0
    var seq = 0
    var queue: [Pending] = []
    var faults = Faults()
    var master: MasterCore
    var agents: [String: AgentSim] = [:]
    var framework: AppsCore
    var store = FrameworkStore()
    var frameworkId: String?
    var stream = 0  // the current subscription; events of older streams are dropped
    var nextPid: Int32 = 100
    var everLaunched: Set<String> = []
    var failures: [String] = []
    /// Checked once faults stop: an app with instances to launch while some agent has room for one
    /// must get a launch within `progressBound` seconds (a stall: issue 18).
    var checkProgress = false
    var progressBound = 30.0
    var waitingSince: [PathId: Double] = [:]
    /// `PACER_SIM_TRACE=<task id>`: every message about that task, for replaying a failing seed.
    let traced = ProcessInfo.processInfo.environment["PACER_SIM_TRACE"]
    var trace: [String] = []

    struct AgentSim {
        var info: AgentInfo
        var core: AgentCore
        var checkpoint: AgentCheckpoint
        var registered = false
        /// pid → (task, alive)
        var processes: [Int32: (taskId: String, alive: Bool)] = [:]
        var boots = 0
        var registrations = 0
    }

    /// What the framework has on disk.
    struct FrameworkStore {
        var apps: [PathId: AppDefinition] = [:]
        var tasks: [String: TaskRecord] = [:]
    }

    init(seed: UInt64, agents count: Int) {
        rng = SeededRandom(seed: seed)
        master = MasterCore(now: 0, idPrefix: "m")
        framework = AppsCore(settings: Self.frameworkSettings, apps: [], tasks: [], idPrefix: "f0", now: Self.date(0))
        for i in 0..<count {
            let info = AgentInfo(
                id: "a\(i)", hostname: "h\(i)", url: "agent://a\(i)",
                resources: Resources(cpus: 4, mem: 4096, disk: 1000, ports: [PortRange(31000, 31099)]),
                attributes: ["rack": "r\(i % 2)"])
            let core = AgentCore(agentId: info.id, idPrefix: "a\(i)b0")
            agents[info.id] = AgentSim(info: info, core: core, checkpoint: core.state)
        }
    }

    /// Lost LAUNCH messages are the simulation's daily fare: it gives up on a launch sooner than
    /// the default (the calm phase must outlast it).
    static var frameworkSettings: AppsSettings {
        var s = AppsSettings()
        s.launchConfirm = .seconds(100)
        return s
    }

    static func date(_ t: Double) -> Instant { Instant(secondsSince1970: 1_700_000_000 + t) }
    /// The master's and agents' clock: the simulated seconds themselves.
    static func instant(_ t: Double) -> Instant { Instant(secondsSince1970: t) }

    mutating func send(_ m: Message, reliable: Bool = false) {
        let copies = !reliable && rng.chance(faults.duplication) ? 2 : 1
        for _ in 0..<copies {
            if !reliable && rng.chance(faults.loss) { continue }
            seq += 1
            let delay = reliable ? 0.001 : Double.random(in: 0.001...max(0.001, faults.maxDelay), using: &rng)
            queue.append(Pending(at: now + delay, seq: seq, message: m))
        }
    }

    // MARK: running

    /// Advances simulated time to `until`, ticking every part and delivering messages on the way.
    mutating func run(until end: Double) {
        var nextTick = now
        while now < end {
            queue.sort { ($0.at, $0.seq) < ($1.at, $1.seq) }
            if let first = queue.first, first.at <= nextTick {
                queue.removeFirst()
                now = first.at
                deliver(first.message)
            } else {
                now = nextTick
                tick()
                nextTick = now + 0.25
            }
            checkInvariants()
        }
    }

    mutating func tick() {
        if faults.crashes && rng.chance(0.01) { crashFramework() }
        if faults.crashes && rng.chance(0.01), let id = agents.keys.sorted().randomElement(using: &rng) { crashAgent(id) }
        if faults.masterFailovers && rng.chance(0.005) { failOverMaster() }
        masterDo(master.onTick(now: Self.instant(now)))
        if frameworkId == nil || master.frameworks[frameworkId!]?.connected != true { subscribe() }
        frameworkDo(framework.onTick(now: Self.date(now)))
        for id in agents.keys.sorted() {
            let registered = agents[id]!.registered
            if !registered {
                agents[id]!.registrations += 1
                let a = agents[id]!
                send(
                    .toMaster(
                        .register(
                            a.info, tasks: a.core.runningTasks, boot: String(format: "%06d", a.boots), sequence: a.registrations))
                )
            } else {
                send(.toMaster(.heartbeat(id)))
            }
            agentDo(id, agents[id]!.core.onTick(now: Self.instant(now)))
        }
    }

    mutating func subscribe() {
        stream += 1
        let (id, ds) = master.onSubscribe(
            FrameworkInfo(id: frameworkId, name: "sim", failoverTimeoutSeconds: 3600), now: Self.instant(now))
        frameworkId = id
        masterDo(ds)
    }

    mutating func deliver(_ m: Message) {
        if let traced, "\(m)".contains(traced) {
            trace.append(String(format: "%8.3f ", now) + "\(m)".replacingOccurrences(of: "PacerModel.", with: "").prefix(400))
        }
        switch m {
        case .toMaster(let call):
            switch call.type {
            case .register:
                guard let r = call.register else { return }
                masterDo(
                    master.onRegisterAgent(r.agent, tasks: r.tasks, boot: r.boot, sequence: r.sequence, now: Self.instant(now)))
                if agents[call.agentId] != nil && !agents[call.agentId]!.registered {
                    agents[call.agentId]!.registered = true
                    agentDo(call.agentId, agents[call.agentId]!.core.onRegistered(now: Self.instant(now)))
                }
            case .heartbeat:
                if master.onHeartbeat(agentId: call.agentId, now: Self.instant(now)) == .registerAgain {
                    agents[call.agentId]?.registered = false
                }
            case .update:
                if master.agents[call.agentId]?.reachable != true {
                    agents[call.agentId]?.registered = false
                    return
                }
                let statuses = call.update?.statuses ?? []
                let unknown = master.reportsUnknownTasks(agentId: call.agentId, statuses)
                masterDo(master.onAgentUpdates(agentId: call.agentId, statuses, now: Self.instant(now)))
                if unknown { agents[call.agentId]?.registered = false }
            }
        case .call(let call):
            if let ds = try? master.onCall(call, now: Self.instant(now)) { masterDo(ds) }
        case .toAgent(let id, let message):
            guard var a = agents[id] else { return }
            let t = now
            let ds: [AgentDirective]
            switch message.type {
            case .launch:
                ds = a.core.onLaunch(frameworkId: message.launch!.frameworkId, message.launch!.tasks, now: Self.instant(t))
            case .kill:
                ds = a.core.onKill(taskId: message.kill!.taskId, frameworkId: message.kill!.frameworkId, now: Self.instant(t))
            case .acknowledge: ds = a.core.onAcknowledged(message.acknowledge!.updates, now: Self.instant(t))
            }
            agents[id] = a
            agentDo(id, ds)
        case .toFramework(let event, let s):
            guard s == stream else { return }
            handleFrameworkEvent(event)
        case .exited(let id, let taskId, let pid, let status):
            guard agents[id]?.processes[pid]?.alive == true else { return }
            agents[id]!.processes[pid]!.alive = false
            agentDo(id, agents[id]!.core.onExited(taskId: taskId, status, now: Self.instant(now)))
        }
    }

    mutating func handleFrameworkEvent(_ e: SchedulerEvent) {
        switch e.type {
        case .subscribed: frameworkDo(framework.onSubscribed(now: Self.date(now)))
        case .offers: frameworkDo(framework.onOffers(e.offers!.offers, now: Self.date(now)))
        case .update: frameworkDo(framework.onStatusUpdates([e.update!.status], now: Self.date(now)))
        default: break
        }
    }

    // MARK: directives

    mutating func masterDo(_ ds: [MasterDirective]) {
        for d in ds {
            switch d {
            case .toFramework(_, let event): send(.toFramework(event, stream: stream), reliable: true)
            case .toAgent(let id, _, let message): send(.toAgent(id, message))
            }
        }
    }

    mutating func agentDo(_ id: String, _ ds: [AgentDirective]) {
        for d in ds {
            switch d {
            case .spawn(let tasks):
                var results: [(taskId: String, result: Result<Int32, SpawnError>)] = []
                for t in tasks {
                    nextPid += 1
                    agents[id]!.processes[nextPid] = (t.taskId, true)
                    results.append((t.taskId, .success(nextPid)))
                    if rng.chance(0.05) {  // some tasks crash on their own
                        seq += 1
                        queue.append(
                            Pending(
                                at: now + Double.random(in: 1...30, using: &rng), seq: seq,
                                message: .exited(agent: id, taskId: t.taskId, pid: nextPid, .exited(1))))
                    }
                }
                agentDo(id, agents[id]!.core.onSpawned(results, now: Self.instant(now)))
            case .signal(let taskId, let pid, let signal):
                seq += 1
                queue.append(
                    Pending(at: now + 0.05, seq: seq, message: .exited(agent: id, taskId: taskId, pid: pid, .signaled(signal))))
            case .checkpoint:
                agents[id]!.checkpoint = agents[id]!.core.state
            case .send(let statuses):
                guard agents[id]!.registered else { continue }
                send(.toMaster(.update(id, statuses)))
            }
        }
    }

    mutating func frameworkDo(_ ds: [AppsDirective]) {
        guard let fid = frameworkId else { return }
        for d in ds {
            switch d {
            case .persistApp(let app): store.apps[app.id] = app
            case .deleteApp(let id): store.apps[id] = nil
            case .persistTasks(let tasks):
                for t in tasks {
                    if t.state == .staging && store.tasks[t.id] == nil {
                        if everLaunched.contains(t.id) { failures.append("task id \(t.id) reused") }
                        everLaunched.insert(t.id)
                    }
                    store.tasks[t.id] = t
                }
            case .deleteTasks(let ids): for id in ids { store.tasks[id] = nil }
            case .persistCanary, .deleteCanary, .persistGroup, .deleteGroup: break  // the simulation starts no canaries or groups
            case .acknowledge(let acks):
                // An update is acknowledged only once what it changed is on disk.
                for ack in acks where store.tasks[ack.taskId] != framework.tasks[ack.taskId] {
                    failures.append("t=\(now): acknowledged \(ack.taskId) before persisting it")
                }
                send(.call(.acknowledge(fid, acks)))
            case .accept(let offer, let tasks, let refuse):
                for t in tasks where store.tasks[t.taskId] == nil {
                    failures.append("t=\(now): launching \(t.taskId) that is not persisted")
                }
                send(.call(.accept(fid, offerIds: [offer], tasks: tasks, refuseSeconds: refuse.seconds)))
            case .decline(let offers, let refuse): send(.call(.decline(fid, offerIds: offers, refuseSeconds: refuse.seconds)))
            case .kill(let task, let agent): send(.call(.kill(fid, taskId: task, agentId: agent)))
            case .revive: send(.call(SchedulerCall(type: .revive, frameworkId: fid)))
            case .reconcile(let refs): send(.call(.reconcile(fid, refs)))
            case .publish: break  // nobody subscribes in the simulation
            }
        }
    }

    // MARK: faults

    /// The framework process dies and comes back with what it had persisted.
    mutating func crashFramework() {
        framework = AppsCore(
            settings: Self.frameworkSettings, apps: Array(store.apps.values), tasks: Array(store.tasks.values),
            idPrefix: "f\(Int(now * 1000))", now: Self.date(now))
        if let id = frameworkId { masterDo(master.onDisconnected(frameworkId: id, now: Self.instant(now))) }
        stream += 1  // the old stream is gone
    }

    /// The leading master dies and another takes over with nothing but the operator's policy: agents
    /// re-register with their tasks (their heartbeats get "unknown agent"), the framework resubscribes.
    /// Messages in flight reach the new leader, as requests redirected by a follower would.
    mutating func failOverMaster() {
        master = MasterCore(now: Self.instant(now), idPrefix: "m\(Int(now * 1000))")
        stream += 1
    }

    /// The agent process dies (its tasks keep running) and restarts from its checkpoint.
    mutating func crashAgent(_ id: String) {
        guard var a = agents[id] else { return }
        a.boots += 1
        a.core = AgentCore(agentId: id, idPrefix: "\(id)b\(a.boots)", restoring: a.checkpoint)
        a.registered = false
        for (taskId, t) in a.core.tasks.sorted(by: { $0.key < $1.key }) where !t.state.isTerminal {
            let alive = t.pid.flatMap { a.processes[$0]?.alive } ?? false
            if !alive { a.core.onRecovered(taskId: taskId, exit: nil, now: Self.instant(now)) }
        }
        agents[id] = a
    }

    // MARK: checking

    mutating func checkInvariants() {
        var owners: [String: Int] = [:]
        for a in agents.values { for p in a.processes.values where p.alive { owners[p.taskId, default: 0] += 1 } }
        for (task, n) in owners where n > 1 { failures.append("t=\(now): \(n) processes for task \(task)") }
        if checkProgress { checkLaunchesProgress() }
    }

    /// An app that wants instances, is not backing off, and fits on some reachable agent as the
    /// master sees it (offers outstanding included: an offer nobody answers is a stall too).
    mutating func checkLaunchesProgress() {
        let date = Self.date(now)
        for app in framework.apps.values.sorted(by: { $0.id < $1.id }) {
            let backingOff = framework.delays[app.id].map { $0.until > date } ?? false
            let waiting = !backingOff && framework.plan(app, now: date).launch > 0 && hasRoom(for: app)
            guard waiting else {
                waitingSince[app.id] = nil
                continue
            }
            let since = waitingSince[app.id] ?? now
            waitingSince[app.id] = since
            if now - since > progressBound {
                failures.append(
                    "t=\(now): \(app.id) stalled: \(framework.plan(app, now: date).launch) to launch, room on an agent, "
                        + "no launch for \(Int(now - since)) s; master: \(masterView())")
                waitingSince[app.id] = now  // report once per bound
            }
        }
    }

    /// What the master holds for the framework: offers outstanding (age), refusals left, suppressed.
    func masterView() -> String {
        guard let fid = frameworkId, let f = master.frameworks[fid] else { return "framework unknown" }
        let offers = master.offers.values.filter { $0.frameworkId == fid }.map { "\($0.id)@\($0.agentId)" }.sorted()
        let refusals = f.refusals.filter { $0.value > Self.instant(now) }.map {
            "\($0.key) \(Int($0.value.timeIntervalSince(Self.instant(now)))) s"
        }.sorted()
        return "connected \(f.connected), suppressed \(f.suppressed), offers \(offers), refusals \(refusals)"
    }

    func hasRoom(for app: AppDefinition) -> Bool {
        master.agents.values.contains { agent in
            guard agent.reachable, var l = master.ledger(agent.info.id) else { return false }
            // Offers are free room from the framework's point of view.
            for o in master.offers.values where o.agentId == agent.info.id && o.revocable != true {
                l.used[o.role ?? "*"] = (l.used[o.role ?? "*"] ?? Resources()) - o.resources.scalars
                l.portsTaken = PortRange.subtract(o.resources.ports, from: l.portsTaken)
            }
            return l.unreservedFree.contains(app.resourcesPerTask.scalars)
                && l.freePorts.reduce(0) { $0 + $1.count } >= app.portDefinitions.count
        }
    }

    /// Live processes of an app, across all agents.
    func liveProcesses(_ app: PathId) -> Int {
        agents.values.reduce(0) { sum, a in
            sum + a.processes.values.filter { $0.alive && $0.taskId.hasPrefix(app.safeName + ".") }.count
        }
    }
}
