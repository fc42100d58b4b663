/// Agent → master calls (`POST /api/v1/agent`).
public struct AgentCall: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case register = "REGISTER"
        case heartbeat = "HEARTBEAT"
        case update = "UPDATE"
    }
    /// A task the agent runs, reported when it (re-)registers so a restarted master relearns it.
    public struct RunningTask: Codable, Sendable, Equatable {
        public var task: TaskInfo
        public var frameworkId: String
        public var state: TaskState
        public init(task: TaskInfo, frameworkId: String, state: TaskState) {
            self.task = task
            self.frameworkId = frameworkId
            self.state = state
        }
    }
    public struct Register: Codable, Sendable, Equatable {
        public var agent: AgentInfo
        public var tasks: [RunningTask]
        /// Which run of the agent sent this (boot ids sort by start time) and its count of
        /// registrations in that run: a delayed, older registration must not replace a newer one's tasks.
        public var boot: String?
        public var sequence: Int?
    }
    public struct Update: Codable, Sendable, Equatable { public var statuses: [TaskStatus] }

    public var type: Kind
    public var agentId: String
    public var register: Register?
    public var update: Update?
    /// On heartbeats: cores each running task used over the last interval (from its cgroup).
    public var usage: [String: Double]?

    public static func register(_ info: AgentInfo, tasks: [RunningTask], boot: String? = nil, sequence: Int? = nil) -> AgentCall {
        AgentCall(
            type: .register, agentId: info.id, register: Register(agent: info, tasks: tasks, boot: boot, sequence: sequence))
    }
    public static func heartbeat(_ agentId: String, usage: [String: Double]? = nil) -> AgentCall {
        AgentCall(type: .heartbeat, agentId: agentId, usage: usage)
    }
    public static func update(_ agentId: String, _ statuses: [TaskStatus]) -> AgentCall {
        AgentCall(type: .update, agentId: agentId, update: Update(statuses: statuses))
    }
}

/// Master → agent messages (`POST /api/v1` on the agent).
public struct AgentMessage: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case launch = "LAUNCH"
        case kill = "KILL"
        case acknowledge = "ACKNOWLEDGE"
    }
    public struct Launch: Codable, Sendable, Equatable {
        public var frameworkId: String
        public var tasks: [TaskInfo]
    }
    public struct Kill: Codable, Sendable, Equatable {
        public var taskId: String
        public var frameworkId: String
        /// Why, when it is not the framework's own kill (a preemption): carried on the final update.
        public var reason: String?
        public var message: String?
        public init(taskId: String, frameworkId: String, reason: String? = nil, message: String? = nil) {
            self.taskId = taskId
            self.frameworkId = frameworkId
            self.reason = reason
            self.message = message
        }
    }
    public struct Acknowledge: Codable, Sendable, Equatable { public var updates: [Acknowledgement] }

    public var type: Kind
    public var launch: Launch?
    public var kill: Kill?
    /// KILL of several tasks at once, to an agent whose registration named `KILL_MANY`; instead of `kill`.
    public var kills: [Kill]?
    public var acknowledge: Acknowledge?

    /// The tasks a KILL names, whichever field carries them.
    public var killOrders: [Kill] { kills ?? kill.map { [$0] } ?? [] }

    public static func launch(framework: String, _ tasks: [TaskInfo]) -> AgentMessage {
        AgentMessage(type: .launch, launch: Launch(frameworkId: framework, tasks: tasks))
    }
    public static func kill(framework: String, task: String, reason: String? = nil, message: String? = nil) -> AgentMessage {
        AgentMessage(type: .kill, kill: Kill(taskId: task, frameworkId: framework, reason: reason, message: message))
    }
    /// One message for several kills (`KILL_MANY`); a single one is sent as `kill`, as to any agent.
    public static func kill(_ orders: [Kill]) -> AgentMessage {
        orders.count == 1 ? AgentMessage(type: .kill, kill: orders[0]) : AgentMessage(type: .kill, kills: orders)
    }
    public static func acknowledge(_ acks: [Acknowledgement]) -> AgentMessage {
        AgentMessage(type: .acknowledge, acknowledge: Acknowledge(updates: acks))
    }
}

/// The master's answer to REGISTER and HEARTBEAT (200): how long to wait before the next heartbeat.
/// The master stretches it as the cluster grows, so it receives a bounded number per second.
public struct AgentCallReply: Codable, Sendable, Equatable {
    public var heartbeatIntervalSeconds: Double?
    public init(heartbeatIntervalSeconds: Double?) { self.heartbeatIntervalSeconds = heartbeatIntervalSeconds }
}
