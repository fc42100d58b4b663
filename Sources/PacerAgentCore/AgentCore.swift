import PacerModel

public struct AgentSettings: Sendable {
    /// First resend of an unacknowledged status update; doubles up to `updateRetryMax`. Mesos's
    /// agent waits 10 s too. At 2 s, 2,000 simulated agents resent 200,000 updates while 50,000
    /// tasks were placed (the framework takes offers before updates, so acknowledgements come
    /// seconds late), two thirds of what the master decoded; at 10 s, 22,000. What it costs: an
    /// update lost on its way is repeated after 10 s (re-registering agents resend everything at once,
    /// and a framework that subscribes reconciles).
    public var updateRetry: Duration = .seconds(10)
    public var updateRetryMax: Duration = .seconds(30)
    /// SIGTERM → SIGKILL when the task names no grace period.
    public var defaultKillGrace: Duration = .seconds(3)
    /// How long a task's keeper waits for a gone agent before it stops the task (zero: forever).
    public var recoveryTimeout: Duration = .seconds(900)
    public init() {}
}

/// How a task's process ended, as `waitpid` tells it.
public enum ExitStatus: Sendable, Equatable, Codable {
    case exited(Int32)
    case signaled(Int32)
}

public struct AgentTask: Sendable, Equatable {
    public var info: TaskInfo
    public var frameworkId: String
    public var state: TaskState
    public var pid: Int32?
    /// nil until the task is asked to die.
    public var kill: TaskKill?

    public init(info: TaskInfo, frameworkId: String, state: TaskState, pid: Int32? = nil, kill: TaskKill? = nil) {
        self.info = info
        self.frameworkId = frameworkId
        self.state = state
        self.pid = pid
        self.kill = kill
    }
}

/// How far a kill has gone. The only transitions:
///
///     (none) ──kill, no process yet──▶ beforeStart      reported killed at once, no signal
///     (none) ──kill, process running──▶ terminating     SIGTERM to the process group
///     terminating ──grace period over──▶ forced          SIGKILL, sent once
public enum TaskKill: Sendable, Equatable {
    case beforeStart(KillOrder)
    case terminating(KillOrder, termSentAt: Instant)
    case forced(KillOrder, termSentAt: Instant)

    public var order: KillOrder {
        switch self {
        case .beforeStart(let o), .terminating(let o, _), .forced(let o, _): return o
        }
    }
}

/// Who asked for a kill, when, and why.
public struct KillOrder: Sendable, Equatable {
    public var askedAt: Instant
    /// Why the master killed it (a preemption), reported on the final update instead of the exit.
    public var reason: String?
    public var message: String?

    public init(askedAt: Instant, reason: String?, message: String?) {
        self.askedAt = askedAt
        self.reason = reason
        self.message = message
    }
}

/// The checkpoint keeps the flat fields it always had, so an agent upgraded in place recovers the
/// tasks (and kills in progress) its previous version wrote.
extension AgentTask: Codable {
    private enum CodingKeys: String, CodingKey {
        case info, frameworkId, state, pid, killRequestedAt, termSentAt, killSent, killReason, killMessage
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        info = try c.decode(TaskInfo.self, forKey: .info)
        frameworkId = try c.decode(String.self, forKey: .frameworkId)
        state = try c.decode(TaskState.self, forKey: .state)
        pid = try c.optional(.pid)
        guard let asked: Instant = try c.optional(.killRequestedAt) else { return }
        let order = KillOrder(askedAt: asked, reason: try c.optional(.killReason), message: try c.optional(.killMessage))
        if let sent: Instant = try c.optional(.termSentAt) {
            kill = try c.value(.killSent, or: false) ? .forced(order, termSentAt: sent) : .terminating(order, termSentAt: sent)
        } else {
            kill = .beforeStart(order)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(info, forKey: .info)
        try c.encode(frameworkId, forKey: .frameworkId)
        try c.encode(state, forKey: .state)
        try c.encodeIfPresent(pid, forKey: .pid)
        guard let kill else { return }
        try c.encode(kill.order.askedAt, forKey: .killRequestedAt)
        try c.encodeIfPresent(kill.order.reason, forKey: .killReason)
        try c.encodeIfPresent(kill.order.message, forKey: .killMessage)
        switch kill {
        case .beforeStart: break
        case .terminating(_, let sent): try c.encode(sent, forKey: .termSentAt)
        case .forced(_, let sent):
            try c.encode(sent, forKey: .termSentAt)
            try c.encode(true, forKey: .killSent)
        }
    }
}

/// A status update waiting for its acknowledgement.
public struct PendingUpdate: Sendable, Equatable, Codable {
    public var status: TaskStatus
    public var lastSent: Instant?
    public var attempts: Int
}

/// What the agent must keep on disk to recover: written before any update is sent.
public struct AgentCheckpoint: Sendable, Equatable, Codable {
    public var tasks: [String: AgentTask]
    /// Per task, updates in order; only the head is in flight.
    public var pending: [String: [PendingUpdate]]
    public var counter: Int
}

public enum AgentDirective: Sendable, Equatable {
    /// Start these processes, then report with `spawned`.
    case spawn([TaskInfo])
    /// Signal the task's whole process group.
    case signal(taskId: String, pid: Int32, signal: Int32)
    /// Persist `checkpoint` (fsync) before carrying out the directives that follow.
    case checkpoint
    /// Send these status updates to the master.
    case send([TaskStatus])
}

/// The agent's task lifecycle and status-update ledger. Pure: time and the id prefix come in.
public struct AgentCore: Sendable {
    public let agentId: String
    public let settings: AgentSettings
    public internal(set) var state: AgentCheckpoint
    let idPrefix: String
    /// No resend can be due before this (a lower bound, never later than the earliest): `due`
    /// skips its look at every pending update until then, and whatever queues an update or moves
    /// a queue's head lowers it. A look each tick was 10 % of the simulated fleet's CPU at 2,000
    /// agents with 50,000 tasks, nearly always finding nothing (resends wait 10–30 s).
    var resendsDueAt = Instant.distantPast
    /// No kill can need its SIGKILL before this (a lower bound, as above): the tick's look at every
    /// task copied them all each second (another 11 % of the fleet's CPU).
    var escalationsDueAt = Instant.distantPast

    public static let sigterm: Int32 = 15
    public static let sigkill: Int32 = 9

    public init(
        agentId: String, settings: AgentSettings = AgentSettings(), idPrefix: String,
        restoring checkpoint: AgentCheckpoint? = nil
    ) {
        self.agentId = agentId
        self.settings = settings
        self.idPrefix = idPrefix
        state = checkpoint ?? AgentCheckpoint(tasks: [:], pending: [:], counter: 0)
    }

    public var tasks: [String: AgentTask] { state.tasks }

    /// Tasks as the master should learn them on (re-)registration.
    public var runningTasks: [AgentCall.RunningTask] {
        state.tasks.values.sorted { $0.info.taskId < $1.info.taskId }
            .map { AgentCall.RunningTask(task: $0.info, frameworkId: $0.frameworkId, state: $0.state) }
    }

    /// Ports held by live tasks on this agent.
    public var portsInUse: Set<Int> {
        Set(state.tasks.values.filter { !$0.state.isTerminal }.flatMap { $0.info.resources.portList })
    }

    /// Queues an update; the caller emits `.checkpoint` then sends heads.
    mutating func enqueue(
        _ taskId: String, frameworkId: String, _ s: TaskState, message: String? = nil,
        reason: String? = nil, now: Instant
    ) {
        state.counter += 1
        let status = TaskStatus(
            taskId: taskId, agentId: agentId, frameworkId: frameworkId, state: s, message: message,
            reason: reason, uuid: "\(idPrefix)-\(state.counter)", timestamp: now.secondsSince1970)
        queue(status)
    }

    /// Puts an update at the end of its task's queue (sent when it reaches the head).
    mutating func queue(_ status: TaskStatus) {
        state.pending[status.taskId, default: []].append(PendingUpdate(status: status, lastSent: nil, attempts: 0))
        resendsDueAt = .distantPast
    }

    /// Heads never sent, or due for a resend; marks them sent.
    mutating func due(now: Instant, force: Bool = false) -> [TaskStatus] {
        guard force || now >= resendsDueAt else { return [] }
        // The due ones are picked out first and only they are sorted (a repeatable order): sorting
        // every pending task on each call was about 4 % of the simulated fleet's CPU in a mass kill.
        var dueIds: [String] = []
        var next = Instant.distantFuture
        for (taskId, queue) in state.pending {
            guard let head = queue.first else { continue }
            if !force, let sent = head.lastSent, now - sent < resendWait(head) {
                next = min(next, sent + resendWait(head))
            } else {
                dueIds.append(taskId)
            }
        }
        var out: [TaskStatus] = []
        for taskId in dueIds.sorted() {
            guard var head = state.pending[taskId]?.first else { continue }
            if head.lastSent != nil { head.attempts += 1 }
            head.lastSent = now
            state.pending[taskId]![0] = head
            out.append(head.status)
            next = min(next, now + resendWait(head))
        }
        resendsDueAt = next
        return out
    }

    /// How long an update that was sent waits for its acknowledgement before it is sent again.
    private func resendWait(_ head: PendingUpdate) -> Duration {
        min(settings.updateRetryMax, settings.updateRetry * (1 << min(head.attempts, 10)))
    }

    func flush(_ updates: [TaskStatus]) -> [AgentDirective] { updates.isEmpty ? [] : [.send(updates)] }
}
