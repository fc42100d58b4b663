/// Framework → master calls (`POST /api/v1/scheduler`).
public struct SchedulerCall: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case subscribe = "SUBSCRIBE"
        case accept = "ACCEPT"
        case decline = "DECLINE"
        case kill = "KILL"
        case acknowledge = "ACKNOWLEDGE"
        case reconcile = "RECONCILE"
        case revive = "REVIVE"
        case suppress = "SUPPRESS"
        case teardown = "TEARDOWN"
    }
    public struct Subscribe: Codable, Sendable, Equatable { public var frameworkInfo: FrameworkInfo }
    public struct Operation: Codable, Sendable, Equatable {
        public var type: String  // "LAUNCH"
        public var launch: Launch?
        public struct Launch: Codable, Sendable, Equatable { public var taskInfos: [TaskInfo] }
        public static func launch(_ tasks: [TaskInfo]) -> Operation {
            Operation(type: "LAUNCH", launch: Launch(taskInfos: tasks))
        }
    }
    public struct Accept: Codable, Sendable, Equatable {
        public var offerIds: [String]
        public var operations: [Operation]
        public var filters: Filters?
    }
    public struct Decline: Codable, Sendable, Equatable {
        public var offerIds: [String]
        public var filters: Filters?
    }
    public struct Kill: Codable, Sendable, Equatable {
        public var taskId: String
        public var agentId: String?
        public init(taskId: String, agentId: String?) {
            self.taskId = taskId
            self.agentId = agentId
        }
    }
    public struct Acknowledge: Codable, Sendable, Equatable { public var updates: [Acknowledgement] }
    public struct Reconcile: Codable, Sendable, Equatable { public var tasks: [TaskRef] }

    public var type: Kind
    public var frameworkId: String?
    public var subscribe: Subscribe?
    public var accept: Accept?
    public var decline: Decline?
    public var kill: Kill?
    /// Pacer's own: several tasks killed in one KILL call (sent only to a master whose SUBSCRIBED
    /// lists `KILL_MANY`). One task per call, as in Mesos, made a mass kill as many round trips as tasks.
    public var kills: [Kill]?
    public var acknowledge: Acknowledge?
    public var reconcile: Reconcile?
    /// Pacer's own: what a REVIVE asks for again. Without it (Mesos) every refusal is lifted.
    public var revive: Revive?

    /// `revocable: false`: lift only refusals of guaranteed offers. Every REVIVE makes the master
    /// offer each agent whose refusal it lifts; a framework with no batch work waiting has no use
    /// for every agent's idle capacity again, and at 2,000 agents that was half of each REVIVE's
    /// 4,000 offers. A master that does not know the field lifts every refusal, as before.
    public struct Revive: Codable, Sendable, Equatable {
        public var revocable: Bool?
        public init(revocable: Bool?) { self.revocable = revocable }
    }

    public init(type: Kind, frameworkId: String?) {
        self.type = type
        self.frameworkId = frameworkId
    }
}

/// Master → framework events, one JSON object per line of the subscription stream.
public struct SchedulerEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case subscribed = "SUBSCRIBED"
        case offers = "OFFERS"
        case rescind = "RESCIND"
        case update = "UPDATE"
        case heartbeat = "HEARTBEAT"
        case failure = "FAILURE"
        case error = "ERROR"
    }
    public struct Subscribed: Codable, Sendable, Equatable {
        public var frameworkId: String
        public var heartbeatIntervalSeconds: Double
        /// What this master takes beyond the Mesos-shaped calls (`Capability`); absent from an
        /// older master, which takes none of them.
        public var capabilities: [String]?
    }
    /// Calls a master may take beyond the Mesos-shaped ones, named in SUBSCRIBED.
    public enum Capability {
        /// A KILL call carrying `kills`, several tasks at once.
        public static let killMany = "KILL_MANY"
    }
    public struct Offers: Codable, Sendable, Equatable { public var offers: [Offer] }
    public struct Rescind: Codable, Sendable, Equatable { public var offerId: String }
    public struct Update: Codable, Sendable, Equatable { public var status: TaskStatus }
    public struct Failure: Codable, Sendable, Equatable { public var agentId: String }
    public struct Message: Codable, Sendable, Equatable { public var message: String }

    public var type: Kind
    public var subscribed: Subscribed?
    public var offers: Offers?
    public var rescind: Rescind?
    public var update: Update?
    public var failure: Failure?
    public var error: Message?

    public init(type: Kind) { self.type = type }
    public static func subscribed(_ id: String, heartbeat: Double, capabilities: [String]? = nil) -> SchedulerEvent {
        var e = SchedulerEvent(type: .subscribed)
        e.subscribed = Subscribed(frameworkId: id, heartbeatIntervalSeconds: heartbeat, capabilities: capabilities)
        return e
    }
    public static func offers(_ offers: [Offer]) -> SchedulerEvent {
        var e = SchedulerEvent(type: .offers)
        e.offers = Offers(offers: offers)
        return e
    }
    public static func rescind(_ id: String) -> SchedulerEvent {
        var e = SchedulerEvent(type: .rescind)
        e.rescind = Rescind(offerId: id)
        return e
    }
    public static func update(_ s: TaskStatus) -> SchedulerEvent {
        var e = SchedulerEvent(type: .update)
        e.update = Update(status: s)
        return e
    }
    public static func failure(agent: String) -> SchedulerEvent {
        var e = SchedulerEvent(type: .failure)
        e.failure = Failure(agentId: agent)
        return e
    }
    public static func error(_ m: String) -> SchedulerEvent {
        var e = SchedulerEvent(type: .error)
        e.error = Message(message: m)
        return e
    }
    public static let heartbeat = SchedulerEvent(type: .heartbeat)
}

extension SchedulerCall {
    public static func subscribe(_ info: FrameworkInfo) -> SchedulerCall {
        var c = SchedulerCall(type: .subscribe, frameworkId: info.id)
        c.subscribe = Subscribe(frameworkInfo: info)
        return c
    }
    public static func accept(_ fid: String, offerIds: [String], tasks: [TaskInfo], refuseSeconds: Double? = nil) -> SchedulerCall
    {
        var c = SchedulerCall(type: .accept, frameworkId: fid)
        c.accept = Accept(offerIds: offerIds, operations: [.launch(tasks)], filters: refuseSeconds.map(Filters.init))
        return c
    }
    public static func decline(_ fid: String, offerIds: [String], refuseSeconds: Double? = nil) -> SchedulerCall {
        var c = SchedulerCall(type: .decline, frameworkId: fid)
        c.decline = Decline(offerIds: offerIds, filters: refuseSeconds.map(Filters.init))
        return c
    }
    public static func kill(_ fid: String, taskId: String, agentId: String?) -> SchedulerCall {
        var c = SchedulerCall(type: .kill, frameworkId: fid)
        c.kill = Kill(taskId: taskId, agentId: agentId)
        return c
    }
    /// Several tasks in one call (`Capability.killMany`).
    public static func kill(_ fid: String, _ kills: [Kill]) -> SchedulerCall {
        var c = SchedulerCall(type: .kill, frameworkId: fid)
        c.kills = kills
        return c
    }
    public static func acknowledge(_ fid: String, _ acks: [Acknowledgement]) -> SchedulerCall {
        var c = SchedulerCall(type: .acknowledge, frameworkId: fid)
        c.acknowledge = Acknowledge(updates: acks)
        return c
    }
    /// `revocable`: whether revocable offers are wanted again too.
    public static func revive(_ fid: String, revocable: Bool) -> SchedulerCall {
        var c = SchedulerCall(type: .revive, frameworkId: fid)
        c.revive = Revive(revocable: revocable)
        return c
    }
    public static func reconcile(_ fid: String, _ tasks: [TaskRef]) -> SchedulerCall {
        var c = SchedulerCall(type: .reconcile, frameworkId: fid)
        c.reconcile = Reconcile(tasks: tasks)
        return c
    }
}
