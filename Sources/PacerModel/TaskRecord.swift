import Foundation

/// The framework's record of one task (one instance of an app). Persisted *before* the launch is
/// sent, so a crash can leave a record without a process but never a process without a record.
public struct TaskRecord: Codable, Sendable, Equatable {
    public var id: String
    public var appId: PathId
    public var agentId: String
    public var host: String
    public var agentAttributes: [String: String]
    public var ports: [Int]
    public var servicePorts: [Int]
    public var version: String
    public var stagedAt: Date
    public var startedAt: Date?
    public var state: TaskState
    public var message: String?
    /// All health checks pass; nil while unknown (no checks, or no verdict yet). Persisted, so a
    /// framework restart does not reset every task to "unknown".
    public var healthy: Bool?
    public var healthCheckResults: [HealthCheckResult]?
    /// All readiness checks passed (nil: the app has none, or not yet).
    public var ready: Bool?
    /// Being taken out of load balancers before its kill (nil: not draining).
    public var draining: Bool?

    public init(
        id: String, appId: PathId, agentId: String, host: String, agentAttributes: [String: String],
        ports: [Int], servicePorts: [Int], version: String, stagedAt: Date, state: TaskState = .staging
    ) {
        self.id = id
        self.appId = appId
        self.agentId = agentId
        self.host = host
        self.agentAttributes = agentAttributes
        self.ports = ports
        self.servicePorts = servicePorts
        self.version = version
        self.stagedAt = stagedAt
        self.state = state
    }

    /// Marathon's task id form: `shop_web.<uuid>`; the app id is recoverable from it.
    public static func makeId(app: PathId, uuid: String) -> String { "\(app.safeName).\(uuid)" }

    public var isActive: Bool { !state.isTerminal }
}

/// A task as Marathon's API shows it (`/v2/tasks`, `/v2/apps/{id}/tasks`).
public struct MarathonTask: Codable, Sendable, Equatable {
    public var id: String
    public var appId: String
    public var host: String
    public var ports: [Int]
    public var servicePorts: [Int]
    public var slaveId: String
    public var stagedAt: String
    public var startedAt: String?
    public var state: String
    public var version: String
    public var ipAddresses: [IPAddress]
    public var healthCheckResults: [HealthCheckResult]
    public var localVolumes: [String]
    /// Marathon's fault domain (from the agent's `region` and `zone` attributes) and the task's role.
    public var region: String?
    public var zone: String?
    public var role: String?
    /// Pacer's additions, written only with `embed=pacer` (see `MarathonShape`): readiness (false
    /// while an app's readiness checks have not passed), draining (true while load balancers take
    /// the task out of rotation) and why a terminal task ended.
    public var ready: Bool?
    public var draining: Bool?
    public var message: String?

    public struct IPAddress: Codable, Sendable, Equatable {
        public var ipAddress: String
        public var `protocol`: String
    }

    enum CodingKeys: String, CodingKey {
        case id, appId, host, ports, servicePorts, slaveId, stagedAt, startedAt, state, version, ipAddresses
        case healthCheckResults, localVolumes, region, zone, role, ready, draining, message
    }

    public init(_ r: TaskRecord, role: String? = nil, health: [HealthCheckResult] = []) {
        id = r.id
        appId = r.appId.description
        host = r.host
        ports = r.ports
        servicePorts = r.servicePorts
        slaveId = r.agentId
        stagedAt = Timestamp.string(r.stagedAt)
        startedAt = r.startedAt.map(Timestamp.string)
        state = r.state.rawValue
        version = r.version
        ipAddresses = [IPAddress(ipAddress: r.host, protocol: "IPv4")]
        healthCheckResults = r.healthCheckResults ?? health
        localVolumes = []
        region = r.agentAttributes["region"]
        zone = r.agentAttributes["zone"]
        self.role = role ?? "*"
        ready = r.ready
        draining = r.draining
        message = r.state.isTerminal ? r.message : nil
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(appId, forKey: .appId)
        try c.encode(host, forKey: .host)
        try c.encode(ports, forKey: .ports)
        try c.encode(servicePorts, forKey: .servicePorts)
        try c.encode(slaveId, forKey: .slaveId)
        try c.encode(stagedAt, forKey: .stagedAt)
        try c.encodeIfPresent(startedAt, forKey: .startedAt)
        try c.encode(state, forKey: .state)
        try c.encode(version, forKey: .version)
        try c.encode(ipAddresses, forKey: .ipAddresses)
        try c.encode(healthCheckResults, forKey: .healthCheckResults)
        try c.encode(localVolumes, forKey: .localVolumes)
        try c.encodeIfPresent(region, forKey: .region)
        try c.encodeIfPresent(zone, forKey: .zone)
        try c.encodeIfPresent(role, forKey: .role)
        guard !MarathonShape.only(encoder) else { return }
        try c.encodeIfPresent(ready, forKey: .ready)
        try c.encodeIfPresent(draining, forKey: .draining)
        try c.encodeIfPresent(message, forKey: .message)
    }
}

/// An app's last failed task, as Marathon's `lastTaskFailure` shows it.
public struct TaskFailure: Codable, Sendable, Equatable {
    public var appId: String
    public var host: String
    public var message: String
    public var state: String
    public var taskId: String
    public var instanceId: String
    public var slaveId: String
    public var timestamp: String
    public var version: String

    public init(_ r: TaskRecord, at time: Date) {
        appId = r.appId.description
        host = r.host
        message = r.message ?? ""
        state = r.state.rawValue
        taskId = r.id
        instanceId = r.id
        slaveId = r.agentId
        timestamp = Timestamp.string(time)
        version = r.version
    }
}

/// One health check's standing for one task (Marathon's `healthCheckResults` entry).
public struct HealthCheckResult: Codable, Sendable, Equatable {
    public var alive: Bool
    public var consecutiveFailures: Int
    public var firstSuccess: String?
    public var lastSuccess: String?
    public var lastFailure: String?
    public var lastFailureCause: String?
    public var taskId: String
    public var instanceId: String
    public init(
        alive: Bool, consecutiveFailures: Int, firstSuccess: String? = nil, lastSuccess: String? = nil,
        lastFailure: String? = nil, lastFailureCause: String? = nil, taskId: String
    ) {
        self.alive = alive
        self.consecutiveFailures = consecutiveFailures
        self.firstSuccess = firstSuccess
        self.lastSuccess = lastSuccess
        self.lastFailure = lastFailure
        self.lastFailureCause = lastFailureCause
        self.taskId = taskId
        self.instanceId = taskId
    }
}
