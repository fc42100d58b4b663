import PacerModel

public struct AgentSettings: Sendable {
    /// First resend of an unacknowledged status update; doubles up to `updateRetryMax`.
    public var updateRetry: Double = 2
    public var updateRetryMax: Double = 10
    /// SIGTERM → SIGKILL when the task names no grace period.
    public var defaultKillGrace: Double = 3
    /// Seconds a task's keeper waits for a gone agent before it stops the task (0: forever).
    public var recoveryTimeout = 900
    public init() {}
}

/// How a task's process ended, as `waitpid` tells it.
public enum ExitStatus: Sendable, Equatable, Codable {
    case exited(Int32)
    case signaled(Int32)
}

public struct AgentTask: Sendable, Equatable, Codable {
    public var info: TaskInfo
    public var frameworkId: String
    public var state: TaskState
    public var pid: Int32?
    public var killRequestedAt: Double?
    public var termSentAt: Double?
    /// SIGKILL went out after the grace period; not sent twice.
    public var killSent: Bool?
    /// Why the master killed it (a preemption), reported on the final update instead of the exit.
    public var killReason: String?
    public var killMessage: String?
}

/// A status update waiting for its acknowledgement.
public struct PendingUpdate: Sendable, Equatable, Codable {
    public var status: TaskStatus
    public var lastSent: Double?
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
        reason: String? = nil, now: Double
    ) {
        state.counter += 1
        let status = TaskStatus(
            taskId: taskId, agentId: agentId, frameworkId: frameworkId, state: s, message: message,
            reason: reason, uuid: "\(idPrefix)-\(state.counter)", timestamp: now)
        state.pending[taskId, default: []].append(PendingUpdate(status: status, lastSent: nil, attempts: 0))
    }

    /// Heads never sent, or due for a resend; marks them sent.
    mutating func due(now: Double, force: Bool = false) -> [TaskStatus] {
        var out: [TaskStatus] = []
        for taskId in state.pending.keys.sorted() {
            guard var head = state.pending[taskId]?.first else { continue }
            let wait = min(settings.updateRetryMax, settings.updateRetry * Double(1 << min(head.attempts, 10)))
            if force || head.lastSent.map({ now - $0 >= wait }) ?? true {
                if head.lastSent != nil { head.attempts += 1 }
                head.lastSent = now
                state.pending[taskId]![0] = head
                out.append(head.status)
            }
        }
        return out
    }

    func flush(_ updates: [TaskStatus]) -> [AgentDirective] { updates.isEmpty ? [] : [.send(updates)] }
}
