/// A change being carried out on the cluster, in Marathon's deployment shape.
public struct DeploymentInfo: Codable, Sendable, Equatable {
    public struct Action: Codable, Sendable, Equatable {
        public var action: String
        public var app: String
        public var readinessCheckResults: [String]?
        public init(action: String, app: String) {
            self.action = action
            self.app = app
        }
    }
    public struct Step: Codable, Sendable, Equatable {
        public var actions: [Action]
        public init(actions: [Action]) { self.actions = actions }
    }

    public var id: String
    public var version: String
    public var affectedApps: [String]
    public var affectedPods: [String] = []
    public var steps: [Step]
    public var currentActions: [Action]
    public var currentStep: Int
    public var totalSteps: Int

    /// A deployment of several apps, in steps (a group change).
    public init(id: String, version: String, steps: [Step]) {
        self.id = id
        self.version = version
        self.steps = steps
        affectedApps = steps.flatMap { $0.actions.map(\.app) }.sorted()
        currentActions = []
        currentStep = steps.isEmpty ? 0 : 1
        totalSteps = steps.count
    }

    public init(id: String, version: String, app: PathId, action: String) {
        self.id = id
        self.version = version
        affectedApps = [app.description]
        let a = Action(action: action, app: app.description)
        steps = [Step(actions: [a])]
        var current = a
        current.readinessCheckResults = []
        currentActions = [current]
        currentStep = 1
        totalSteps = 1
    }
}

/// `{"version": …, "deploymentId": …}`, Marathon's answer to PUT/DELETE of an app.
public struct DeploymentResult: Codable, Sendable, Equatable {
    public var version: String
    public var deploymentId: String
    public init(version: String, deploymentId: String) {
        self.version = version
        self.deploymentId = deploymentId
    }
}

/// Pacer's addition to a deployment (`/v2/deployments?embed=pacer`): what it waits on, in words,
/// and whether it has been reported stalled (no progress for the framework's stall time).
public struct DeploymentProgress: Codable, Sendable, Equatable {
    public var waitingFor: String
    public var stalled: Bool
    public var startedAt: String?
    public var lastProgressAt: String?
    public init(waitingFor: String, stalled: Bool, startedAt: String?, lastProgressAt: String?) {
        self.waitingFor = waitingFor
        self.stalled = stalled
        self.startedAt = startedAt
        self.lastProgressAt = lastProgressAt
    }
}
