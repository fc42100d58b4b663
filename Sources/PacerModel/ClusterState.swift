/// The master's view, as `GET /state` on the master shows it (operators, frameworks, tests).
public struct ClusterState: Codable, Sendable, Equatable {
    public struct Agent: Codable, Sendable, Equatable {
        public var id: String
        public var hostname: String
        public var url: String
        public var reachable: Bool
        public var resources: Resources
        public var used: Resources
        public var attributes: [String: String]
        /// Role → resources reserved for it here (static and dynamic).
        public var reserved: [String: Resources]?
        public var tasks: [Task]
        public init(
            id: String, hostname: String, url: String, reachable: Bool, resources: Resources, used: Resources,
            attributes: [String: String], reserved: [String: Resources]? = nil, tasks: [Task]
        ) {
            self.id = id
            self.hostname = hostname
            self.url = url
            self.reachable = reachable
            self.resources = resources
            self.used = used
            self.attributes = attributes
            self.reserved = reserved
            self.tasks = tasks
        }
    }
    public struct Task: Codable, Sendable, Equatable {
        public var id: String
        public var frameworkId: String
        public var state: TaskState
        public init(id: String, frameworkId: String, state: TaskState) {
            self.id = id
            self.frameworkId = frameworkId
            self.state = state
        }
    }
    public struct Framework: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var connected: Bool
        public init(id: String, name: String, connected: Bool) {
            self.id = id
            self.name = name
            self.connected = connected
        }
    }
    public var agents: [Agent]
    public var frameworks: [Framework]
    public var outstandingOffers: Int
    public init(agents: [Agent], frameworks: [Framework], outstandingOffers: Int) {
        self.agents = agents
        self.frameworks = frameworks
        self.outstandingOffers = outstandingOffers
    }
}

/// A role as `GET /master/roles` shows it.
public struct RoleStatus: Codable, Sendable, Equatable {
    public var name: String
    public var weight: Double
    public var quota: Quota?
    public var allocated: Resources
    public var reserved: Resources
    public var frameworks: [String]
    public init(name: String, weight: Double, quota: Quota?, allocated: Resources, reserved: Resources, frameworks: [String]) {
        self.name = name
        self.weight = weight
        self.quota = quota
        self.allocated = allocated
        self.reserved = reserved
        self.frameworks = frameworks
    }
}

/// `GET /master/allocation`: the allocation history (oldest first) and per-agent figures.
public struct AllocationReport: Codable, Sendable {
    public struct Sample: Codable, Sendable, Equatable {
        public var time: Double
        public var total: Resources
        public var allocated: Resources
        public var byRole: [String: Resources]
        public init(time: Double, total: Resources, allocated: Resources, byRole: [String: Resources]) {
            self.time = time
            self.total = total
            self.allocated = allocated
            self.byRole = byRole
        }
    }
    public struct Agent: Codable, Sendable, Equatable {
        public var total: Resources
        public var allocated: Resources
        public var averageRate: Double
        public var peakRate: Double
        public var samples: Int
        public init(total: Resources, allocated: Resources, averageRate: Double, peakRate: Double, samples: Int) {
            self.total = total
            self.allocated = allocated
            self.averageRate = averageRate
            self.peakRate = peakRate
            self.samples = samples
        }
    }
    public var period: Double
    public var samples: [Sample]
    public var agents: [String: Agent]
    public init(period: Double, samples: [Sample], agents: [String: Agent]) {
        self.period = period
        self.samples = samples
        self.agents = agents
    }
}
