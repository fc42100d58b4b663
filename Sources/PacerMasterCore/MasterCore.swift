import PacerModel

/// Named bounds and periods of the master.
public struct MasterSettings: Sendable {
    /// An agent silent this long is unreachable; its tasks are reported `TASK_UNREACHABLE`. Meant
    /// for agents heartbeating every `heartbeat`: an agent told a longer interval gets three of
    /// its intervals' difference on top.
    public var agentTimeout: Duration = .seconds(15)
    /// How often agents heartbeat in a small cluster.
    public var heartbeat: Duration = .seconds(1)
    /// In a large one, intervals stretch so that at most this many heartbeats arrive per second
    /// (Nomad's max_heartbeats_per_second, 50 there): 2,000 agents heartbeat every 20 s and are
    /// declared unreachable after 72 s of silence (Mesos: 75 s). Each heartbeat costs the master
    /// about 0.5 ms of CPU, mostly HTTP and the kernel: at 200 a second the heartbeats alone took
    /// 9.3–12.2 % of a core.
    public var maxHeartbeatsPerSecond: Double = 100
    /// How often frameworks get a HEARTBEAT on their stream.
    public var frameworkHeartbeat: Duration = .seconds(5)
    /// Mesos' default refusal when a DECLINE or ACCEPT names no filter.
    public var defaultRefusal: Duration = .seconds(5)
    /// Smallest unused share worth offering.
    public var minOfferCpus: Double = 0.001
    public var minOfferMem: Double = 1
    /// An offer not answered within this long is rescinded and its resources offered again
    /// (Mesos' `--offer_timeout`): a DECLINE or ACCEPT lost on the way, or a framework that drops
    /// offers, must not keep an agent out of every later allocation.
    public var offerTimeout: Duration = .seconds(15)
    /// Every agent is offered again this often while offers depend on the whole cluster (quota:
    /// Mesos' allocation interval); in between, and otherwise, only agents whose resources or
    /// measured use changed or whose refusals ran out are.
    public var allocationInterval: Duration = .seconds(1)
    /// Every agent is offered again this often when offers depend only on each agent: a safety
    /// net, not what brings an agent back (`refusalWakeups` and resource changes do).
    public var quietAllocationInterval: Duration = .seconds(30)
    /// Full passes asked for by events (REVIVE, a new subscription) run at most this often.
    public var minFullAllocation: Duration = .milliseconds(100)
    /// Allocation is sampled this often for `/master/allocation` (a day of samples is kept).
    public var statsPeriod: Duration = .seconds(10)
    /// How fast silent agents may be declared unreachable; nil: as fast as they fall silent.
    public var agentRemovalRate: RemovalRate? = .standard
    public init() {}
}

/// What the shell must do after the core took an event.
public enum MasterDirective: Sendable, Equatable {
    /// Send the event on the framework's subscription stream (offers, rescinds, status updates).
    case toFramework(String, SchedulerEvent)
    /// Send the message to the agent at `url` (launch, kill, acknowledgement, reconcile).
    case toAgent(agentId: String, url: String, AgentMessage)
}

public struct MasterTask: Sendable, Equatable {
    /// What the framework launched, fixed from then on. Held by reference: agents' task tables
    /// keep their tasks inline, a task was 370 bytes a slot with it inline, and a table keeps the
    /// slots of its busiest moment (`AgentEntry.shrinkTasks`): under churn, as tasks gathered on
    /// some agents and left others, the master grew by those slots (heaptrack, 500 agents).
    private let launched: Launched
    public var info: TaskInfo { launched.info }
    public var frameworkId: String
    public var state: TaskState
    /// A revocable task the master chose to kill to make room for services: no longer counted.
    public var preempted = false
    /// The latest health and readiness its agent reported: reconciliation answers with them, so a
    /// framework that fails over knows at once which tasks are healthy (not after the agent's resend).
    public var healthy: Bool?
    public var health: [HealthCheckResult]?
    public var ready: Bool?
    public init(info: TaskInfo, frameworkId: String, state: TaskState, preempted: Bool = false) {
        launched = Launched(info)
        self.frameworkId = frameworkId
        self.state = state
        self.preempted = preempted
    }

    public static func == (a: MasterTask, b: MasterTask) -> Bool {
        (a.launched === b.launched || a.info == b.info) && a.frameworkId == b.frameworkId && a.state == b.state
            && a.preempted == b.preempted && a.healthy == b.healthy && a.health == b.health && a.ready == b.ready
    }

    private final class Launched: Sendable {
        let info: TaskInfo
        init(_ info: TaskInfo) { self.info = info }
    }
}

public struct AgentEntry: Sendable, Equatable {
    public var info: AgentInfo
    public var lastSeen: Instant
    public var reachable: Bool
    public var tasks: [String: MasterTask]
    /// Cores each task used over the agent's last heartbeat interval (absent: not measured).
    public var cpuUsage: [String: Double] = [:]
    /// The heartbeat interval this agent was last told: its timeout follows from it.
    public var heartbeatInterval: Duration = .seconds(1)

    public init(info: AgentInfo, lastSeen: Instant, reachable: Bool, tasks: [String: MasterTask]) {
        self.info = info
        self.lastSeen = lastSeen
        self.reachable = reachable
        self.tasks = tasks
    }

    /// The cpus a service task is expected to need: what it used lately plus a margin for bursts,
    /// never more than it holds; its whole allocation until measured. CPU is the one resource lent
    /// to batch work: a busy service takes it back at once by weight. Memory is never lent, because
    /// it can only be taken back by killing.
    public func expectedCpus(_ t: MasterTask) -> Double {
        guard let used = cpuUsage[t.info.taskId] else { return t.info.resources.cpus }
        return min(t.info.resources.cpus, used * 1.25 + 0.05)
    }

    public var used: Resources {
        tasks.values.filter { !$0.state.isTerminal }.reduce(Resources()) { $0 + $1.info.resources }
    }
}

public struct FrameworkEntry: Sendable, Equatable {
    public var info: FrameworkInfo
    public var connected: Bool
    public var disconnectedAt: Instant?
    public var suppressed = false
    /// agent id → time until which this framework declined that agent's resources.
    public var refusals: [String: Instant] = [:]
}

/// The master's decisions: agent registry, framework registry, offers, task bookkeeping.
/// Never awaits, never reads a clock: `now` (seconds) and id prefixes come from the shell.
public struct MasterCore: Sendable {
    public let settings: MasterSettings
    public internal(set) var agents: [String: AgentEntry] = [:]
    public internal(set) var frameworks: [String: FrameworkEntry] = [:]
    public internal(set) var offers = OfferBook()
    /// Weights, quotas and dynamic reservations set by the operator (persisted by the shell).
    public internal(set) var policy = ResourcePolicy()
    /// Per agent, the newest registration seen (boot, sequence).
    var registrations: [String: (boot: String, sequence: Int)] = [:]
    var startedAt: Instant
    let idPrefix: String
    var counter = 0
    var lastHeartbeat: Instant
    /// Per reachable agent its part of the cluster sums, and the sums (see `ClusterSums`).
    var shares: [String: AgentShare] = [:]
    var sums = ClusterSums()
    /// Agents to offer at the next allocation; all of them when `allocateAll` (a revive, a new
    /// subscription, a policy change, and every `allocationInterval` or `quietAllocationInterval`).
    var dirty: Set<String> = []
    /// Agents to offer again when a framework's refusal of them runs out.
    var refusalWakeups = Wakeups<String>()
    /// Agents the allocator has looked at since the master started: what allocation costs, which
    /// should follow changes and refusals running out, not the size of the cluster.
    public internal(set) var agentsVisited = 0
    var allocateAll = true
    var lastFullPass = Instant.distantPast
    var lastRecompute = Instant.distantPast
    /// A REVIVE asked for a full pass (run at most every `minFullAllocation`).
    var reviveRequested = false
    /// No reachable agent can time out before this: the expiry scan waits for it. Heartbeats only
    /// move an agent's deadline later, except when its interval shrinks, so each one lowers this
    /// when its own deadline is earlier (one comparison instead of a scan of every agent per tick).
    var nextExpiry = Instant.distantPast
    /// Which agent runs each task the master knows.
    var taskAgent: [String: String] = [:]
    /// Agents declared unreachable since the master started (a healthy cluster keeps this at 0).
    public internal(set) var unreachableMarks = 0
    /// Permits to declare agents unreachable (`MasterSettings.agentRemovalRate`).
    var removals: RemovalBucket
    /// Agents past their deadline at the last expiry scan, left reachable for want of a permit.
    public internal(set) var unreachableDeferred = 0
    /// The update last forwarded per task and not yet acknowledged (see `firstForward`).
    var forwarded: [String: ForwardedUpdate] = [:]
    var lastForwardedPrune = Instant.distantPast
    /// Agents' resends of an update the framework already has, not forwarded again.
    public internal(set) var resendsNotForwarded = 0

    public init(
        settings: MasterSettings = MasterSettings(), now: Instant, idPrefix: String, policy: ResourcePolicy = ResourcePolicy()
    ) {
        self.settings = settings
        self.startedAt = now
        self.lastHeartbeat = now
        self.idPrefix = idPrefix
        self.policy = policy
        removals = RemovalBucket(rate: settings.agentRemovalRate, now: now)
    }

    /// A master elected after another: the operator's policy as stored, and agents get one
    /// timeout from now to come back with their tasks before anything is declared lost.
    /// Nothing is sent at once: agents and frameworks come to the new leader, and the next tick
    /// offers what is free.
    public mutating func onTookOver(policy: ResourcePolicy, now: Instant) -> [MasterDirective] {
        self.policy = policy
        startedAt = now
        allocateAll = true
        return []
    }

    /// Puts a policy back after it could not be stored.
    public mutating func restorePolicy(_ policy: ResourcePolicy) {
        self.policy = policy
        allocateAll = true
    }

    mutating func nextId(_ kind: String) -> String {
        counter += 1
        return "\(idPrefix)-\(kind)\(counter)"
    }

    /// Tasks the master cannot vouch for yet: after a restart, agents have one timeout to re-register.
    func inReregistrationWindow(_ now: Instant) -> Bool { now - startedAt < settings.agentTimeout }

    public func task(_ id: String) -> (agent: AgentEntry, task: MasterTask)? {
        guard let agentId = taskAgent[id], let agent = agents[agentId], let t = agent.tasks[id] else { return nil }
        return (agent, t)
    }

    /// Sends to the framework only while it is connected; agents retry what matters.
    func send(_ frameworkId: String, _ event: SchedulerEvent) -> [MasterDirective] {
        frameworks[frameworkId]?.connected == true ? [.toFramework(frameworkId, event)] : []
    }
}

/// An update on its way to a framework's current subscription.
struct ForwardedUpdate: Sendable {
    var uuid: String
    var frameworkId: String
    var at: Instant
}
