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
        public var tasks: [Task]
        public init(id: String, hostname: String, url: String, reachable: Bool, resources: Resources, used: Resources,
                    attributes: [String: String], tasks: [Task]) {
            self.id = id; self.hostname = hostname; self.url = url; self.reachable = reachable
            self.resources = resources; self.used = used; self.attributes = attributes; self.tasks = tasks
        }
    }
    public struct Task: Codable, Sendable, Equatable {
        public var id: String
        public var frameworkId: String
        public var state: TaskState
        public init(id: String, frameworkId: String, state: TaskState) { self.id = id; self.frameworkId = frameworkId; self.state = state }
    }
    public struct Framework: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var connected: Bool
        public init(id: String, name: String, connected: Bool) { self.id = id; self.name = name; self.connected = connected }
    }
    public var agents: [Agent]
    public var frameworks: [Framework]
    public var outstandingOffers: Int
    public init(agents: [Agent], frameworks: [Framework], outstandingOffers: Int) {
        self.agents = agents; self.frameworks = frameworks; self.outstandingOffers = outstandingOffers
    }
}
