/// An app as developers write it (Marathon's app JSON), with Marathon's defaults filled in.
public struct AppDefinition: Sendable, Equatable {
    public var id: PathId
    public var cmd: String?
    public var args: [String]?
    public var user: String?
    public var env: [String: String] = [:]
    /// `env` entries given as Marathon secret references (`{"secret": …}`): Pacer has no secret
    /// store, so validation refuses them by name rather than dropping them silently.
    public var envSecrets: [String] = []
    public var instances: Int = 1
    public var cpus: Double = 1
    public var mem: Double = 128
    public var disk: Double = 0
    public var portDefinitions: [PortDefinition] = [PortDefinition(port: 0)]
    public var requirePorts = false
    public var labels: [String: String] = [:]
    public var constraints: [Constraint] = []
    public var healthChecks: [HealthCheck] = []
    public var readinessChecks: [ReadinessCheck] = []
    public var upgradeStrategy = UpgradeStrategy()
    public var backoffSeconds: Double = 1
    public var backoffFactor: Double = 1.15
    public var maxLaunchDelaySeconds: Double = 300
    public var killSelection: KillSelection = .youngestFirst
    public var taskKillGracePeriodSeconds: Double?
    public var unreachableStrategy = UnreachableStrategy()
    public var dependencies: [PathId] = []
    public var role: String?
    public var resourceLimits: ResourceLimits?
    /// Pacer's addition: `batch` apps run best-effort on idle capacity and may be preempted.
    public var kind: AppKind = .service
    /// Pacer, beyond Marathon: a deployment of this app that makes no progress for this long fails
    /// (`deployment_failed`); with `autoRevert` the app goes back to its last fully healthy version.
    public var progressDeadlineSeconds: Double?
    public var autoRevert = false
    /// Set by the framework: the time of the last change, as Marathon spells versions.
    public var version: String?
    public var versionInfo: VersionInfo?

    public init(id: PathId) { self.id = id }

    /// What one instance needs from an offer (ports counted separately).
    public var resourcesPerTask: Resources { Resources(cpus: cpus, mem: mem, disk: disk) }

    /// True when the two specs would run the same tasks: only `instances` and bookkeeping differ.
    /// Marathon restarts tasks only for such configuration changes, never for a scale.
    public func sameConfiguration(as other: AppDefinition) -> Bool {
        var a = self
        var b = other
        a.instances = 0
        b.instances = 0
        a.version = nil
        b.version = nil
        a.versionInfo = nil
        b.versionInfo = nil
        return a == b
    }
}

public struct PortDefinition: Codable, Sendable, Equatable {
    public var port: Int
    public var `protocol`: String = "tcp"
    public var name: String?
    public var labels: [String: String]?
    public init(port: Int, name: String? = nil) {
        self.port = port
        self.name = name
    }

    enum CodingKeys: String, CodingKey { case port, `protocol`, name, labels }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        port = try c.value(.port, or: 0)
        self.protocol = try c.value(.protocol, or: "tcp")
        name = try c.optional(.name)
        labels = try c.optional(.labels)
    }
}

public struct UpgradeStrategy: Codable, Sendable, Equatable {
    public var minimumHealthCapacity: Double = 1
    public var maximumOverCapacity: Double = 1
    public init(minimumHealthCapacity: Double = 1, maximumOverCapacity: Double = 1) {
        self.minimumHealthCapacity = minimumHealthCapacity
        self.maximumOverCapacity = maximumOverCapacity
    }
    enum CodingKeys: String, CodingKey { case minimumHealthCapacity, maximumOverCapacity }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        minimumHealthCapacity = try c.value(.minimumHealthCapacity, or: 1)
        maximumOverCapacity = try c.value(.maximumOverCapacity, or: 1)
    }
}

public struct UnreachableStrategy: Codable, Sendable, Equatable {
    public var inactiveAfterSeconds: Double = 0
    public var expungeAfterSeconds: Double = 0
    public init(inactiveAfterSeconds: Double = 0, expungeAfterSeconds: Double = 0) {
        self.inactiveAfterSeconds = inactiveAfterSeconds
        self.expungeAfterSeconds = expungeAfterSeconds
    }
    enum CodingKeys: String, CodingKey { case inactiveAfterSeconds, expungeAfterSeconds }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inactiveAfterSeconds = try c.value(.inactiveAfterSeconds, or: 0)
        expungeAfterSeconds = try c.value(.expungeAfterSeconds, or: 0)
    }
}

public enum KillSelection: String, Codable, Sendable {
    case youngestFirst = "YOUNGEST_FIRST"
    case oldestFirst = "OLDEST_FIRST"
}

public struct VersionInfo: Codable, Sendable, Equatable {
    public var lastScalingAt: String
    public var lastConfigChangeAt: String
    public init(lastScalingAt: String, lastConfigChangeAt: String) {
        self.lastScalingAt = lastScalingAt
        self.lastConfigChangeAt = lastConfigChangeAt
    }
}

/// Services get guaranteed resources; batch work runs on revocable, idle capacity with the lowest
/// CPU weight, and the master preempts it when services need the room.
public enum AppKind: String, Codable, Sendable, Equatable {
    case service, batch
}

/// `resourceLimits`: a number, or `"unlimited"`.
public enum ResourceLimit: Sendable, Equatable, Codable {
    case limited(Double)
    case unlimited
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            guard s == "unlimited" else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected a number or \"unlimited\"")
            }
            self = .unlimited
        } else {
            self = .limited(try c.decode(Double.self))
        }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .limited(let v): try c.encode(v)
        case .unlimited: try c.encode("unlimited")
        }
    }
}

public struct ResourceLimits: Codable, Sendable, Equatable {
    public var cpus: ResourceLimit?
    public var mem: ResourceLimit?
    public init(cpus: ResourceLimit? = nil, mem: ResourceLimit? = nil) {
        self.cpus = cpus
        self.mem = mem
    }
}

extension AppDefinition {
    /// The version a task of this app must carry to count as current: the last configuration
    /// change (scaling does not make tasks old), or the version of a spec never stored.
    public var configVersion: String { versionInfo?.lastConfigChangeAt ?? version ?? "" }
}
