/// The Mesos-shaped protocol between frameworks, the master and agents (snake_case JSON on the wire).
/// Identifiers are plain strings; who creates which is noted on each type.

public struct AgentInfo: Codable, Sendable, Equatable {
    public var id: String
    public var hostname: String
    /// Where the master reaches the agent's API, e.g. `http://127.0.0.1:5051`.
    public var url: String
    public var resources: Resources
    public var attributes: [String: String]
    /// Static reservations from the agent's flags: role → resources set aside for it.
    public var reserved: [String: Resources]?
    /// Messages it takes beyond the first protocol (`Capability`): a master sends an agent that
    /// does not name one (an older agent, during a rolling upgrade) only what it understands.
    public var capabilities: [String]?
    public init(
        id: String, hostname: String, url: String, resources: Resources, attributes: [String: String] = [:],
        reserved: [String: Resources]? = nil, capabilities: [String]? = Capability.all
    ) {
        self.id = id
        self.hostname = hostname
        self.url = url
        self.resources = resources
        self.attributes = attributes
        self.reserved = reserved
        self.capabilities = capabilities
    }

    public enum Capability {
        /// A KILL message carrying `kills`, several tasks at once.
        public static let killMany = "KILL_MANY"
        /// What this build's agents take.
        public static let all = [killMany]
    }

    public var takesKillMany: Bool { capabilities?.contains(Capability.killMany) == true }
}

public struct FrameworkInfo: Codable, Sendable, Equatable {
    public var id: String?
    public var name: String
    public var failoverTimeoutSeconds: Double
    public var hostname: String?
    /// The roles it is offered resources for (Mesos MULTI_ROLE); none: the default role `*`.
    public var roles: [String]?
    /// `REVOCABLE_RESOURCES`: it also wants best-effort offers of idle capacity.
    public var capabilities: [String]?
    public init(
        id: String? = nil, name: String, failoverTimeoutSeconds: Double = 604_800, hostname: String? = nil,
        roles: [String]? = nil, capabilities: [String]? = nil
    ) {
        self.id = id
        self.name = name
        self.failoverTimeoutSeconds = failoverTimeoutSeconds
        self.hostname = hostname
        self.roles = roles
        self.capabilities = capabilities
    }

    public var servedRoles: [String] { roles.flatMap { $0.isEmpty ? nil : $0 } ?? [Role.any] }
    public var wantsRevocable: Bool { capabilities?.contains("REVOCABLE_RESOURCES") == true }
}

/// Unused resources of one agent, offered to one framework. Created by the master.
public struct Offer: Codable, Sendable, Equatable {
    public var id: String
    public var frameworkId: String
    public var agentId: String
    public var hostname: String
    public var attributes: [String: String]
    public var resources: Resources
    /// The role the resources are allocated to; tasks launched from the offer count against it.
    public var role: String?
    /// Best-effort capacity: tasks launched on it are revocable and may be preempted.
    public var revocable: Bool?
    public init(
        id: String, frameworkId: String, agentId: String, hostname: String,
        attributes: [String: String], resources: Resources, role: String? = nil, revocable: Bool? = nil
    ) {
        self.id = id
        self.frameworkId = frameworkId
        self.agentId = agentId
        self.hostname = hostname
        self.attributes = attributes
        self.resources = resources
        self.role = role
        self.revocable = revocable
    }
}

public struct CommandInfo: Codable, Sendable, Equatable {
    /// `true`: run `value` with `/bin/sh -c`; `false`: exec `arguments` directly.
    public var shell: Bool
    public var value: String?
    public var arguments: [String]?
    public var environment: [String: String]
    public var user: String?
    public init(shell: Bool, value: String?, arguments: [String]?, environment: [String: String], user: String? = nil) {
        self.shell = shell
        self.value = value
        self.arguments = arguments
        self.environment = environment
        self.user = user
    }
}

/// A task to launch. Created by the framework; ids are never reused.
public struct TaskInfo: Codable, Sendable, Equatable {
    public var taskId: String
    public var name: String
    public var agentId: String
    public var resources: Resources
    public var command: CommandInfo
    public var killGracePeriodSeconds: Double?
    /// Checks the agent runs for this task; their results come back on status updates.
    public var healthChecks: [TaskHealthCheck]?
    public var readinessChecks: [TaskReadinessCheck]?
    /// Caps above the requested `resources` (the app's `resourceLimits`): the agent's cgroup enforces them.
    public var resourceLimits: ResourceLimits?
    /// The role whose allocation the task uses (from its offer).
    public var role: String?
    /// Launched on revocable (best-effort) resources: lowest CPU weight, preempted when services need the room.
    public var revocable: Bool?
    public init(
        taskId: String, name: String, agentId: String, resources: Resources, command: CommandInfo,
        killGracePeriodSeconds: Double? = nil, healthChecks: [TaskHealthCheck]? = nil,
        readinessChecks: [TaskReadinessCheck]? = nil, resourceLimits: ResourceLimits? = nil
    ) {
        self.taskId = taskId
        self.name = name
        self.agentId = agentId
        self.resources = resources
        self.command = command
        self.killGracePeriodSeconds = killGracePeriodSeconds
        self.healthChecks = healthChecks
        self.readinessChecks = readinessChecks
        self.resourceLimits = resourceLimits
    }
}

extension TaskInfo {
    /// The CPU cap the agent enforces (CFS quota): `resourceLimits.cpus` when larger than `cpus`; nil when unlimited.
    public var cpuLimit: Double? {
        switch resourceLimits?.cpus {
        case .unlimited: nil
        case .limited(let v): max(v, resources.cpus)
        case nil: resources.cpus
        }
    }

    /// The memory cap the agent enforces: `resourceLimits.mem` when larger than `mem`; nil when unlimited.
    public var memoryLimitMiB: Double? {
        switch resourceLimits?.mem {
        case .unlimited: nil
        case .limited(let v): max(v, resources.mem)
        case nil: resources.mem
        }
    }
}

/// A task's state at a moment. Updates from agents carry a `uuid` and must be acknowledged;
/// updates made up by the master (reconciliation, unreachable agents, invalid launches) do not.
public struct TaskStatus: Codable, Sendable, Equatable {
    public var taskId: String
    public var agentId: String?
    public var frameworkId: String?
    public var state: TaskState
    public var message: String?
    public var reason: String?
    public var uuid: String?
    /// Seconds since the epoch, when the state was observed.
    public var timestamp: Double
    /// All health checks pass (nil: the task has none, or no verdict yet).
    public var healthy: Bool?
    /// Per check, in the app's order: Marathon's `healthCheckResults`.
    public var health: [HealthCheckResult]?
    /// Every readiness check answered ready (set once; readiness is not re-checked afterwards).
    public var ready: Bool?
    public init(
        taskId: String, agentId: String?, frameworkId: String?, state: TaskState, message: String? = nil,
        reason: String? = nil, uuid: String? = nil, timestamp: Double, healthy: Bool? = nil,
        health: [HealthCheckResult]? = nil
    ) {
        self.taskId = taskId
        self.agentId = agentId
        self.frameworkId = frameworkId
        self.state = state
        self.message = message
        self.reason = reason
        self.uuid = uuid
        self.timestamp = timestamp
        self.healthy = healthy
        self.health = health
    }
}

public struct Acknowledgement: Codable, Sendable, Equatable, Hashable {
    public var agentId: String
    public var taskId: String
    public var uuid: String
    public init(agentId: String, taskId: String, uuid: String) {
        self.agentId = agentId
        self.taskId = taskId
        self.uuid = uuid
    }
}

public struct Filters: Codable, Sendable, Equatable {
    public var refuseSeconds: Double
    public init(refuseSeconds: Double) { self.refuseSeconds = refuseSeconds }
}

public struct TaskRef: Codable, Sendable, Equatable {
    public var taskId: String
    public var agentId: String?
    public init(taskId: String, agentId: String?) {
        self.taskId = taskId
        self.agentId = agentId
    }
}
