import Foundation

/// The framework's record of one task (one instance of an app). Persisted *before* the launch is
/// sent, so a crash can leave a record without a process but never a process without a record.
public struct TaskRecord: Codable, Sendable, Equatable {
    /// Where and as what the task was placed: fixed at launch, so kept in one shared box. Plans,
    /// placement and API reads copy records; with nine reference-counted fields each copy cost nine
    /// retains and releases, a fifth of the framework's CPU at 50,000 tasks (issue 12 profile).
    private let placement: Placement
    public var id: String { placement.id }
    public var appId: PathId { placement.appId }
    public var agentId: String { placement.agentId }
    public var host: String { placement.host }
    public var agentAttributes: [String: String] { placement.agentAttributes }
    public var ports: [Int] { placement.ports }
    public var servicePorts: [Int] { placement.servicePorts }
    public var version: String { placement.version }
    public var stagedAt: Date { placement.stagedAt }
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

    private final class Placement: Sendable {
        let id: String
        let appId: PathId
        let agentId: String
        let host: String
        let agentAttributes: [String: String]
        let ports: [Int]
        let servicePorts: [Int]
        let version: String
        let stagedAt: Date

        init(
            id: String, appId: PathId, agentId: String, host: String, agentAttributes: [String: String], ports: [Int],
            servicePorts: [Int], version: String, stagedAt: Date
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
        }
    }

    public init(
        id: String, appId: PathId, agentId: String, host: String, agentAttributes: [String: String],
        ports: [Int], servicePorts: [Int], version: String, stagedAt: Date, state: TaskState = .staging
    ) {
        placement = Placement(
            id: id, appId: appId, agentId: agentId, host: host, agentAttributes: agentAttributes, ports: ports,
            servicePorts: servicePorts, version: version, stagedAt: stagedAt)
        self.state = state
    }

    // The stored form is the flat object it always was (records written by older builds load).
    private enum CodingKeys: String, CodingKey {
        case id, appId, agentId, host, agentAttributes, ports, servicePorts, version, stagedAt
        case startedAt, state, message, healthy, healthCheckResults, ready, draining
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try c.decode(String.self, forKey: .id), appId: try c.decode(PathId.self, forKey: .appId),
            agentId: try c.decode(String.self, forKey: .agentId), host: try c.decode(String.self, forKey: .host),
            agentAttributes: try c.decode([String: String].self, forKey: .agentAttributes),
            ports: try c.decode([Int].self, forKey: .ports), servicePorts: try c.decode([Int].self, forKey: .servicePorts),
            version: try c.decode(String.self, forKey: .version), stagedAt: try c.decode(Date.self, forKey: .stagedAt),
            state: try c.decode(TaskState.self, forKey: .state))
        startedAt = try c.decodeIfPresent(Date.self, forKey: .startedAt)
        message = try c.decodeIfPresent(String.self, forKey: .message)
        healthy = try c.decodeIfPresent(Bool.self, forKey: .healthy)
        healthCheckResults = try c.decodeIfPresent([HealthCheckResult].self, forKey: .healthCheckResults)
        ready = try c.decodeIfPresent(Bool.self, forKey: .ready)
        draining = try c.decodeIfPresent(Bool.self, forKey: .draining)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(appId, forKey: .appId)
        try c.encode(agentId, forKey: .agentId)
        try c.encode(host, forKey: .host)
        try c.encode(agentAttributes, forKey: .agentAttributes)
        try c.encode(ports, forKey: .ports)
        try c.encode(servicePorts, forKey: .servicePorts)
        try c.encode(version, forKey: .version)
        try c.encode(stagedAt, forKey: .stagedAt)
        try c.encodeIfPresent(startedAt, forKey: .startedAt)
        try c.encode(state, forKey: .state)
        try c.encodeIfPresent(message, forKey: .message)
        try c.encodeIfPresent(healthy, forKey: .healthy)
        try c.encodeIfPresent(healthCheckResults, forKey: .healthCheckResults)
        try c.encodeIfPresent(ready, forKey: .ready)
        try c.encodeIfPresent(draining, forKey: .draining)
    }

    public static func == (a: TaskRecord, b: TaskRecord) -> Bool {
        a.startedAt == b.startedAt && a.state == b.state && a.message == b.message && a.healthy == b.healthy
            && a.healthCheckResults == b.healthCheckResults && a.ready == b.ready && a.draining == b.draining
            && (a.placement === b.placement
                || (a.id, a.appId, a.agentId, a.host, a.version, a.stagedAt) == (
                    b.id, b.appId, b.agentId, b.host, b.version, b.stagedAt
                )
                    && a.agentAttributes == b.agentAttributes && a.ports == b.ports && a.servicePorts == b.servicePorts)
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
