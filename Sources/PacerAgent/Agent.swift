import Foundation
import Logging
import PacerAgentCore
import PacerClient
import PacerModel

/// The agent's shell: owns the core, launches and signals processes, writes the checkpoint
/// before any update leaves, and queues updates for the master.
public actor Agent {
    var core: AgentCore
    var info: AgentInfo
    let launcher: Launcher
    let checkpoint: CheckpointFile
    let logger: Logger
    /// Updates produced since the last flush, and whether the checkpoint changed since it was written.
    /// A flush writes the checkpoint once, then hands every pending update to the sender: the
    /// checkpoint always precedes the send, and a burst of exits costs one fsync.
    var unsent: [TaskStatus] = []
    var dirty = false
    let doorbell: AsyncStream<Void>.Continuation
    let rings: AsyncStream<Void>
    /// Tasks recovered from a checkpoint whose process is not our child: polled for liveness.
    var adopted: Set<String> = []
    var registered = false
    /// Where health checks are started and stopped; set once the monitor runs.
    var health: AsyncStream<HealthCommand>.Continuation?

    func attach(health: AsyncStream<HealthCommand>.Continuation) {
        self.health = health
        // Tasks recovered from the checkpoint get their checks again.
        for t in core.tasks.values where t.state == .running {
            health.yield(.start(t.info, sandbox: launcher.sandbox(for: t.info.taskId), startedAt: Self.now))
        }
    }

    func ready(_ taskId: String) {
        execute(core.onReady(taskId: taskId, now: Self.now))
    }

    func healthChanged(_ taskId: String, _ trackers: [HealthTracker]) {
        execute(core.onHealthChanged(taskId: taskId, trackers, now: Self.now))
    }

    /// Throws when `isolation` asks for cgroups the agent cannot create: it refuses to run tasks
    /// unconfined unless told to (`--isolation none`).
    public init(info: AgentInfo, workDir: String, settings: AgentSettings, isolation: IsolationSettings, logger: Logger) throws {
        checkpoint = CheckpointFile(directory: workDir)
        let saved = try checkpoint.load()
        var info = info
        if let saved { info.id = saved.agentId }
        self.info = info
        // Named by the agent id, which survives restarts: a restarted agent finds its tasks' groups.
        let cgroups = isolation.cgroups ? try Cgroups.detect(agentName: info.id) : nil
        launcher = Launcher(
            sandboxRoot: workDir + "/sandboxes", statusRoot: workDir + "/exits", isolation: isolation, cgroups: cgroups,
            recoveryTimeout: Int(settings.recoveryTimeout.seconds))
        launcher.beat()
        self.logger = logger
        core = AgentCore(
            agentId: info.id, settings: settings, idPrefix: UUID().uuidString.prefix(8).lowercased(),
            restoring: saved?.checkpoint)
        (rings, doorbell) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    static var now: Instant { SteadyClock.instant }
    public var agentInfo: AgentInfo { info }

    /// After a restart: tasks still alive are watched again; the others are reported ended.
    func recover() throws {
        for (id, t) in core.tasks where !t.state.isTerminal {
            if t.pid.map(Launcher.isAlive) ?? false {
                adopted.insert(id)
            } else {
                ended(id, pid: t.pid)
            }
        }
        try persist()
        logger.info("agent recovered", metadata: ["agent.id": "\(info.id)", "tasks": "\(adopted.count)"])
    }

    func persist() throws {
        try checkpoint.save(.init(agentId: info.id, checkpoint: core.state))
    }

    public func handle(_ message: AgentMessage) {
        let now = Self.now
        switch message.type {
        case .launch:
            guard let l = message.launch else { return }
            execute(core.onLaunch(frameworkId: l.frameworkId, l.tasks, now: now))
        case .kill:
            execute(core.onKill(message.killOrders, now: now))
        case .acknowledge:
            execute(core.onAcknowledged(message.acknowledge?.updates ?? [], now: now))
        }
    }

    /// `status` is the keeper's; the task's own, as the keeper recorded it, wins (a signal death
    /// in a pid namespace reaches us only as the keeper's exit code 128+n).
    func exited(_ taskId: String, _ status: ExitStatus, pid: Int32) {
        let (recorded, oomKilled) = tidyUp(taskId, pid: pid)
        execute(core.onExited(taskId: taskId, recorded?.status ?? status, oomKilled: oomKilled, now: Self.now))
    }

    /// A recovered task found dead (at restart, or polled later): reported with the exit status its
    /// keeper recorded, when it got to record one.
    func ended(_ taskId: String, pid: Int32?) {
        let (recorded, oomKilled) = tidyUp(taskId, pid: pid)
        core.onRecovered(
            taskId: taskId, exit: recorded?.status, orphanedAfter: recorded?.orphaned == true ? launcher.recoveryTimeout : nil,
            oomKilled: oomKilled, now: Self.now)
    }

    /// After a task's process ended: its checks stop, whatever it left behind goes with it (no
    /// orphaned grandchildren), and its keeper's record and cgroup are read before they go.
    private func tidyUp(_ taskId: String, pid: Int32?) -> (recorded: (status: ExitStatus, orphaned: Bool)?, oomKilled: Bool) {
        health?.yield(.stop(taskId: taskId))
        let recorded = launcher.recorded(taskId)
        launcher.killEverything(taskId, pid: pid)
        return (recorded, launcher.cleanUp(taskId).oomKilled)
    }

    func tick() {
        launcher.beat()
        for id in adopted {
            guard let t = core.tasks[id], let pid = t.pid, !t.state.isTerminal else {
                adopted.remove(id)
                continue
            }
            if !Launcher.isAlive(pid) {
                adopted.remove(id)
                ended(id, pid: pid)
            }
        }
        execute(core.onTick(now: Self.now))
    }

    func setRegistered(_ value: Bool) {
        let was = registered
        registered = value
        if value && !was { execute(core.onRegistered(now: Self.now)) }
    }

    /// Sorts by start time, so the master can tell a newer run of this agent from an older one.
    let boot =
        String(format: "%015llu-", UInt64(SteadyClock.now.timeIntervalSince1970 * 1000))
        + UUID().uuidString.prefix(8).lowercased()
    var registrations = 0

    /// The next registration, numbered so the master can tell it from an older one still in flight.
    func registration() -> AgentCall {
        registrations += 1
        return .register(info, tasks: core.runningTasks, boot: boot, sequence: registrations)
    }

    func execute(_ directives: [AgentDirective]) {
        for d in directives {
            switch d {
            case .spawn(let tasks):
                // Started after the LAUNCH is answered: a LAUNCH of many tasks spawned inside the
                // master's request outlasted its delivery timeout and was reported dropped while
                // the tasks ran (issue 12).
                Task { await self.spawn(tasks) }
            case .signal(let taskId, let pid, let sig):
                if sig == AgentCore.sigkill { launcher.killEverything(taskId, pid: pid) } else { Launcher.signalGroup(pid, sig) }
            case .checkpoint:
                dirty = true
                doorbell.yield()
            case .send(let statuses):
                unsent += statuses
                doorbell.yield()
            }
        }
    }

    /// Starts the processes of a LAUNCH and reports how each start went.
    func spawn(_ tasks: [TaskInfo]) {
        var results: [(taskId: String, result: Result<Int32, SpawnError>)] = []
        for t in tasks {
            // Killed before its turn came: nothing to start.
            guard core.tasks[t.taskId]?.state == .staging, core.tasks[t.taskId]?.kill == nil else { continue }
            let r = launcher.spawn(t)
            if case .success(let pid) = r {
                ProcessReaper.shared.watch(pid) { [weak self] status in
                    guard let self else { return }
                    Task { await self.exited(t.taskId, status, pid: pid) }
                }
                health?.yield(.start(t, sandbox: launcher.sandbox(for: t.taskId), startedAt: Self.now))
                logger.debug("task started", metadata: ["task.id": "\(t.taskId)", "pid": "\(pid)"])
            }
            results.append((t.taskId, r))
        }
        execute(core.onSpawned(results, now: Self.now))
    }

    /// Writes the checkpoint if it changed, then returns the updates that may now leave.
    /// Without a durable checkpoint nothing leaves: the core resends once the disk works again.
    func flush() -> [TaskStatus] {
        if dirty {
            do { try persist() } catch {
                logger.error("checkpoint failed; holding updates", metadata: ["error": "\(error)"])
                unsent = []
                return []
            }
            dirty = false
        }
        defer { unsent = [] }
        return registered ? unsent : []
    }

    public func tasks() -> [AgentTask] { core.tasks.values.sorted { $0.info.taskId < $1.info.taskId } }

    var lastCpu: [String: (seconds: Double, at: Instant)] = [:]

    /// Cores each live task used since the previous call, from its cgroup (nil without cgroups):
    /// sent with heartbeats so the master can lend what services leave idle to batch work.
    func cpuRates() -> [String: Double]? {
        guard let cgroups = launcher.cgroups else { return nil }
        let now = Self.now
        var rates: [String: Double] = [:]
        var seen: [String: (seconds: Double, at: Instant)] = [:]
        for t in core.tasks.values where !t.state.isTerminal {
            let id = t.info.taskId
            guard let u = cgroups.usage(id) else { continue }
            if let prev = lastCpu[id], now > prev.at {
                rates[id] = max(0, (u.cpuTotalSeconds - prev.seconds) / now.timeIntervalSince(prev.at))
            }
            seen[id] = (u.cpuTotalSeconds, now)
        }
        lastCpu = seen
        return rates
    }

    /// Live tasks with what their cgroups measure (nil without cgroup isolation).
    public func usage() -> [(task: AgentTask, usage: CgroupUsage?)] {
        core.tasks.values.filter { !$0.state.isTerminal }.sorted { $0.info.taskId < $1.info.taskId }
            .map { ($0, launcher.cgroups?.usage($0.info.taskId)) }
    }

    func finishOutbox() { doorbell.finish() }

    /// SIGTERM to every task, SIGKILL to those still alive after `grace` seconds.
    func killAll(grace: Duration) async {
        let pids = core.tasks.values.filter { !$0.state.isTerminal }.compactMap(\.pid)
        for pid in pids { Launcher.signalGroup(pid, AgentCore.sigterm) }
        let deadline = SteadyClock.now.addingTimeInterval(grace.seconds)
        while SteadyClock.now < deadline, pids.contains(where: Launcher.isAlive) { try? await Task.sleep(for: .milliseconds(50)) }
        for t in core.tasks.values where !t.state.isTerminal { launcher.killEverything(t.info.taskId, pid: t.pid) }
        logger.info("stopped tasks on shutdown", metadata: ["tasks": "\(pids.count)"])
    }
}
