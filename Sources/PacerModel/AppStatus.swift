/// An app as `GET /v2/apps` shows it: the spec plus its counters, deployments and (embedded) tasks.
public struct AppStatus: Sendable, Equatable {
    public var app: AppDefinition
    public var tasksStaged = 0
    public var tasksRunning = 0
    public var tasksHealthy = 0
    public var tasksUnhealthy = 0
    public var deployments: [String] = []
    public var tasks: [MarathonTask]?
    public var lastTaskFailure: TaskFailure?

    public init(app: AppDefinition) { self.app = app }
}

extension AppStatus: Codable {
    enum Keys: String, CodingKey {
        case tasksStaged, tasksRunning, tasksHealthy, tasksUnhealthy, deployments, tasks, lastTaskFailure
    }
    struct DeploymentRef: Codable { var id: String }

    public init(from decoder: any Decoder) throws {
        app = try AppDefinition(from: decoder)
        let c = try decoder.container(keyedBy: Keys.self)
        tasksStaged = try c.value(.tasksStaged, or: 0)
        tasksRunning = try c.value(.tasksRunning, or: 0)
        tasksHealthy = try c.value(.tasksHealthy, or: 0)
        tasksUnhealthy = try c.value(.tasksUnhealthy, or: 0)
        deployments = try c.value(.deployments, or: [DeploymentRef]()).map(\.id)
        tasks = try c.optional(.tasks)
        lastTaskFailure = try c.optional(.lastTaskFailure)
    }

    public func encode(to encoder: any Encoder) throws {
        try app.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(tasksStaged, forKey: .tasksStaged)
        try c.encode(tasksRunning, forKey: .tasksRunning)
        try c.encode(tasksHealthy, forKey: .tasksHealthy)
        try c.encode(tasksUnhealthy, forKey: .tasksUnhealthy)
        try c.encode(deployments.map(DeploymentRef.init(id:)), forKey: .deployments)
        try c.encodeIfPresent(tasks, forKey: .tasks)
        try c.encodeIfPresent(lastTaskFailure, forKey: .lastTaskFailure)
    }
}
