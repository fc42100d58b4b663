import Foundation
import PacerModel

public struct AppsSettings: Sendable {
    /// Refusal sent with declined offers when nothing waits to launch (Marathon: decline_offer_duration).
    public var declineRefusal: Duration = .seconds(120)
    /// Refusal when something waits but this offer does not fit it.
    public var unfitRefusal: Duration = .seconds(2)
    /// A task still staging after this long is asked about (reconciled): the master answers with
    /// what it knows, or LOST for a launch it never made. Agents start a command in milliseconds.
    public var launchTimeout: Duration = .seconds(60)
    /// A task still staging after this long is given up: killed and replaced (Marathon's
    /// task_launch_confirm_timeout). Replacing at the first timeout duplicated every task an
    /// overloaded master had merely not confirmed yet (issue 12: 24,000 records for 8,000 instances).
    public var launchConfirm: Duration = .seconds(300)
    /// A requested kill without a terminal update after this long is sent again.
    public var killRetry: Duration = .seconds(10)
    public var reconcileInterval: Duration = .seconds(600)
    public var servicePorts: ClosedRange<Int> = 10_000...20_000
    /// With instances to launch and none launched for this long, offers are asked for again, the
    /// wait doubling up to `reviveMax`: a REVIVE lost or overtaken by an older DECLINE must not
    /// hold a deployment back for the length of a refusal (issue 18).
    public var revive: Duration = .seconds(5)
    public var reviveMax: Duration = .seconds(30)
    /// A deployment that came no closer to its target for this long is reported stalled (an event,
    /// a metric, and why it waits in `/v2/deployments?embed=pacer`).
    public var stall: Duration = .seconds(300)
    /// Longest wait for load balancers to take a task out of rotation before it is killed anyway.
    public var drainTimeout: Duration = .seconds(10)
    /// The roles this framework subscribes with; an app's `role` must be one of them.
    public var roles = [Role.any]
    public init() {}
}

/// What the scheduler shell must do, in order. `.persist*` must be durable before what follows.
public enum AppsDirective: Sendable, Equatable {
    /// Store the app's spec (and its version, for `/v2/apps/{id}/versions`).
    case persistApp(AppDefinition)
    /// Remove the app's spec and its stored versions.
    case deleteApp(PathId)
    /// Store these task records: before the launch that creates them goes out, before the update
    /// that changed them is acknowledged.
    case persistTasks([TaskRecord])
    /// Remove the records of tasks that ended (or were expunged).
    case deleteTasks([String])
    /// Launch `tasks` on the offer (records already stored); refuse what is left of it for a while.
    case accept(offerId: String, tasks: [TaskInfo], refuse: Duration)
    /// Nothing fits these offers: give them back and ask not to see those agents for a while.
    case decline(offerIds: [String], refuse: Duration)
    /// Ask the master to kill the task (repeated by the core until a terminal status arrives).
    case kill(taskId: String, agentId: String)
    /// Acknowledge status updates to their agents, once the changes they made are stored.
    case acknowledge([Acknowledgement])
    /// Lift every refusal filter: something waits to launch.
    case revive
    /// Ask the master for the state of these tasks (all of its tasks when empty).
    case reconcile([TaskRef])
    /// Store a canary (a second version beside an app) so it continues after a restart.
    case persistCanary(Canary)
    case deleteCanary(PathId)
    /// Store an explicit group (`/v2/groups`), or remove one.
    case persistGroup(GroupRecord)
    case deleteGroup(PathId)
    /// Tell subscribers (event stream, callbacks, the LBs): once every write before it is durable.
    /// Always last in a batch.
    case publish(AppsEvent)
}

extension AppsDirective {
    /// A write to the state store (what must succeed before anything is acknowledged).
    public var isStoreWrite: Bool {
        switch self {
        case .persistApp, .deleteApp, .persistTasks, .deleteTasks, .persistCanary, .deleteCanary, .persistGroup, .deleteGroup:
            true
        default: false
        }
    }
}

public struct Deployment: Sendable, Equatable, Codable {
    public var info: DeploymentInfo
    public var appId: PathId
    /// The fewest changes still to make seen so far (instances to bring up to serving, old tasks to
    /// remove), and when it last fell: the progress deadline and stall reports run from it.
    /// Not persisted state in any meaningful sense: a restart measures again from its own start.
    public var closest: Int?
    public var lastProgressAt: Date?
    /// Reported stalled, and not progressed since.
    public var stalled: Bool?
    public var startedAt: Date?
    /// The group change (`/v2/groups`) this app's deployment is part of: its deployment id.
    public var group: String?
}

/// The app framework's decisions: desired apps vs. actual tasks. Pure: time and id prefix come in.
public struct AppsCore: Sendable {
    public let settings: AppsSettings
    public internal(set) var apps: [PathId: AppDefinition]
    public internal(set) var tasks: TaskTable
    public internal(set) var deployments = DeploymentTable()
    public internal(set) var delays: [PathId: LaunchDelay] = [:]
    public internal(set) var lastFailure: [PathId: TaskFailure] = [:]
    /// Tasks being drained or killed, with what each waits for (`TaskLifecycle`); a task not here
    /// is kept. Leaving tasks no longer count as instances.
    public internal(set) var leaving: [String: TaskLifecycle] = [:]
    /// How many tasks each app has in `leaving`, kept where entries come and go (`requestKill`
    /// adds, a terminal update or an expunge removes; every entry is an active task's). Under
    /// churn every app has tasks leaving, and counting them from `leaving` for every batch of
    /// updates and offers was a quarter of an overloaded framework's CPU (issue 12).
    private(set) var leavingByApp: [PathId: Int] = [:]
    /// Leaving tasks by when their drain times out or their KILL is due again: a tick looks at
    /// those only. Looking at every leaving task twice a second was half the CPU of a framework
    /// that had fallen behind with 12,000 kills outstanding (perf, issue 12). Until the first
    /// tick has filed them all (`leavingFiled`), a tick looks at every one.
    var leavingWakeups = Wakeups<String>()
    var leavingFiled = false
    /// Tasks we hold no record of that an agent reported alive: killed, and killed again until
    /// they are reported gone (a lost KILL must not leave them running forever).
    var strays: [String: (agentId: String, since: Instant)] = [:]
    var unreachableSince: [String: Instant] = [:]
    /// Load balancers following the framework, by name: a task is killed only after each of them
    /// has taken it out of rotation (or the drain timeout passed).
    public internal(set) var loadBalancers: Set<String> = []
    /// Drains that ended at the drain timeout, not with every load balancer's acknowledgement
    /// (`pacer_drains_timed_out_total`): each held a task's kill for the whole timeout.
    public internal(set) var drainsTimedOut = 0
    var lastReconcile: Instant?
    /// Staging tasks past the launch timeout already asked about.
    var confirming: Set<String> = []
    /// When `onTick` looks at staging tasks next (nil: at the next tick).
    var nextStagingScan: Instant?
    var events: [AppsEvent] = []
    /// Canaries running beside their apps, by app.
    public internal(set) var canaries: [PathId: Canary] = [:]
    /// Per app, the last spec whose deployment completed: where `autoRevert` goes back to.
    public internal(set) var lastGood: [PathId: AppDefinition] = [:]
    let idPrefix: String
    var counter = 0
    /// Since when instances have waited to launch with none launched, and when offers were last
    /// asked for on that account.
    var unmet: (since: Instant, revivedAt: Instant, revives: Int)?
    public internal(set) var lastOfferAt: Instant?
    /// When the once-a-second part of `tick` last ran.
    var lastSlowTick: Instant?
    /// Per app with instances still to launch: why the last batch of offers did not take them.
    public internal(set) var misfits: [PathId: Misfits] = [:]
    /// Explicit groups (`/v2/groups`), by id.
    public internal(set) var groups: [PathId: GroupRecord] = [:]
    /// Group deployments in progress, as they started (their steps keep the apps already done),
    /// and why one failed when an app of it was superseded or stopped before the others ended.
    var umbrellas: [String: DeploymentInfo] = [:]
    var umbrellaFailures: [String: String] = [:]

    /// `deployments`: those stored before a restart; the ones whose app still has work to do
    /// continue under their ids.
    public init(
        settings: AppsSettings = AppsSettings(), apps: [AppDefinition], tasks: [TaskRecord],
        deployments stored: [Deployment] = [], canaries: [Canary] = [], groups: [GroupRecord] = [], idPrefix: String, now: Instant
    ) {
        self.settings = settings
        self.groups = Dictionary(groups.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        self.apps = Dictionary(apps.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        self.tasks = TaskTable(tasks)
        self.idPrefix = idPrefix
        for t in tasks where t.state == .unreachable { unreachableSince[t.id] = now }
        // A canary continues after a restart under its deployment id.
        for c in canaries where self.apps[c.spec.id] != nil {
            self.canaries[c.spec.id] = c
            if let d = stored.first(where: { $0.info.id == c.deploymentId }) { deployments[d.info.id] = d }
        }
        for app in apps.sorted(by: { $0.id < $1.id }) {
            if self.canaries[app.id] != nil {
                continue
            } else if converged(app) {
                lastGood[app.id] = app
            } else if let d = stored.first(where: { $0.appId == app.id && $0.info.version == app.version }) {
                deployments[d.info.id] = d
            } else {
                startDeployment(app, action: "RestartApplication", now: now)
            }
        }
        for d in stored where self.apps[d.appId] == nil && self.tasks.hasTasks(of: d.appId) {
            deployments[d.info.id] = d  // an app being stopped: its removal continues
        }
    }

    mutating func nextId() -> String {
        counter += 1
        return "\(idPrefix)-\(String(counter, radix: 16))"
    }

    /// Tasks that count as instances: alive, not being killed, not unreachable past the app's tolerance.
    public func live(_ appId: PathId, now: Instant? = nil) -> [TaskRecord] {
        let tolerance = apps[appId]?.unreachableStrategy.inactiveAfterSeconds ?? 0
        let canary = canaries[appId]?.version
        return tasks.of(app: appId).filter { t in
            guard t.isActive, leaving[t.id] == nil, t.version != canary else { return false }
            if t.state == .unreachable, let since = unreachableSince[t.id] {
                return now.map { $0.timeIntervalSince(since) < tolerance } ?? (tolerance > 0)
            }
            return true
        }
    }

    /// Per app, its running tasks that count as instances (`live`, running only), from the task
    /// table's counts: leaving tasks and canaries are the only ones to take off, and they are few.
    public func runningInstances() -> [PathId: Int] {
        var out: [PathId: Int] = [:]
        for id in apps.keys { out[id] = tasks.runningCount(of: id) }
        for taskId in leaving.keys {
            if let t = tasks[taskId], t.state == .running, out[t.appId] != nil { out[t.appId]! -= 1 }
        }
        for (appId, canary) in canaries where out[appId] != nil {
            for t in tasks.of(app: appId) where t.state == .running && t.version == canary.version && leaving[t.id] == nil {
                out[appId]! -= 1
            }
        }
        return out
    }

    public func tasks(of appId: PathId) -> [TaskRecord] {
        tasks.of(app: appId).sorted { ($0.stagedAt, $0.id) < ($1.stagedAt, $1.id) }
    }

    public func plan(_ app: AppDefinition, now: Instant? = nil) -> InstancePlan {
        InstancePlan.make(app: app, live: live(app.id, now: now))
    }

    func converged(_ app: AppDefinition) -> Bool {
        // Converged needs `instances` live tasks serving, so at least that many running: while an
        // app is still being placed the count says no without copying its records (every status
        // update asked this of every app it touched).
        if tasks.runningCount(of: app.id) < app.instances { return false }
        let p = plan(app)
        let live = self.live(app.id)
        let version = app.configVersion
        return p.launch == 0 && p.kill.isEmpty && live.count == app.instances
            && live.allSatisfy { InstancePlan.isServing($0, app) && $0.version == version }
            && !tasks.of(app: app.id).contains { leaving[$0.id] != nil }
    }

    public func deployment(for appId: PathId) -> Deployment? {
        deployments.of(app: appId)
    }

    mutating func startDeployment(_ app: AppDefinition, action: String, now: Instant) {
        if let d = deployments.of(app: app.id) {
            deployments[d.info.id] = nil
            record(.deploymentFailed(d.info, reason: "superseded by a newer deployment of \(app.id)"))
            if let g = d.group {
                finishGroupDeployment(g, failed: "\(app.id) was changed again before the group change finished")
            }
        }
        let id = nextId()
        let info = DeploymentInfo(id: id, version: app.version ?? "", app: app.id, action: action)
        deployments[id] = Deployment(info: info, appId: app.id, startedAt: now.date)
        record(.deploymentInfo(info))
    }

    /// Drops finished deployments (the app reached its target, or is gone and its tasks too).
    /// `of`: only deployments of these apps (what an event touched); all of them by default.
    mutating func completeDeployments(of ids: Set<PathId>? = nil) {
        for (id, d) in deployments.sorted(by: { $0.key < $1.key }) where ids?.contains(d.appId) ?? true {
            if canaries[d.appId]?.deploymentId == id { continue }  // held until promoted or aborted
            if let app = apps[d.appId] {
                if converged(app) {
                    deployments[id] = nil
                    lastGood[app.id] = app
                    record(.deploymentSuccess(d.info))
                    if let g = d.group { finishGroupDeployment(g) }
                }
            } else if !tasks.hasTasks(of: d.appId) {
                deployments[id] = nil
                record(.deploymentSuccess(d.info))
                if let g = d.group { finishGroupDeployment(g) }
            }
        }
    }

    /// Every app with something to launch now (not in backoff, not waiting for its dependencies).
    func hasDemand(now: Instant, among ids: Set<PathId>? = nil) -> Bool { !launchWants(now: now, among: ids).isEmpty }

    /// Apps that may want launches without an event saying so: those being deployed, with a
    /// canary, or with fewer active tasks than instances. (An app with its count of active tasks
    /// and no deployment wants a launch only once one of them ends — an event.)
    var maybeWanting: Set<PathId> {
        Set(deployments.appIds).union(canaries.keys)
            .union(apps.values.filter { tasks.activeCount(of: $0.id) < $0.instances }.map(\.id))
    }

    /// An app being deployed waits until every app it depends on is deployed and serving.
    func dependenciesReady(_ app: AppDefinition) -> Bool {
        guard deployment(for: app.id) != nil else { return true }
        return effectiveDependencies(of: app.id).allSatisfy { dep in
            apps[dep].map { converged($0) } ?? false
        }
    }

    /// Kills for the surplus or replaced tasks of these apps. A converged app has none, so
    /// periodic work need only look at apps being deployed; events look at the apps they touched.
    mutating func enforcePlans(now: Instant, of ids: some Sequence<PathId>) -> [AppsDirective] {
        var out: [AppsDirective] = []
        let candidates = Set(ids).sorted().compactMap { apps[$0] }
        let unsettled = unsettledApps(among: candidates)
        for app in candidates {
            // No more live tasks than instances, all on the current spec, none unreachable: nothing
            // to kill, known from counts (copying the records of every app an update touched was
            // the largest cost of handling status updates at 50,000 tasks).
            if let live = liveCount(app, unsettled), live <= app.instances { continue }
            for id in plan(app, now: now).kill { out += requestKill(id, now: now) }
        }
        return out
    }

    /// Scale-down, replacement, removal and health kills all come here: a running task is first
    /// drained from the load balancers that follow the framework, then killed. A task already being
    /// killed gets its KILL again; one being drained is left to its drain.
    mutating func requestKill(_ id: String, now: Instant, unhealthy: Bool = false) -> [AppsDirective] {
        guard let t = tasks[id], t.isActive else { return [] }
        let current = leaving[id] ?? .kept
        guard !current.isDraining else { return [] }
        let next: TaskLifecycle =
            current == .kept
            ? .kill(running: t.state == .running, loadBalancers: loadBalancers, unhealthy: unhealthy, now: now)
            : .killing(askedAt: now, unhealthy: unhealthy || current.isUnhealthyKill)
        if leaving.updateValue(next, forKey: id) == nil { leavingByApp[t.appId, default: 0] += 1 }
        fileLeaving(id)
        guard next.isDraining else { return [.kill(taskId: id, agentId: t.agentId)] }
        tasks[id]?.draining = true
        record(.taskDraining(tasks[id]!))
        return []
    }

    /// Takes a task off `leaving` (it ended, or was forgotten); whether it was there.
    @discardableResult
    mutating func stopLeaving(_ id: String, of app: PathId) -> Bool {
        guard leaving.removeValue(forKey: id) != nil else { return false }
        leavingByApp[app, default: 1] -= 1
        if leavingByApp[app] == 0 { leavingByApp[app] = nil }
        return true
    }

    /// Files a leaving task's next deadline (drain timeout or KILL again) for `onTick`.
    mutating func fileLeaving(_ id: String) {
        guard let at = leaving[id]?.dueAt(drainTimeout: settings.drainTimeout, killRetry: settings.killRetry) else { return }
        leavingWakeups.add(id, at: at)
    }

    /// The drain is over (acknowledged, timed out, or the task is gone): the kill goes out.
    mutating func finishDrain(_ id: String, now: Instant) -> [AppsDirective] {
        guard leaving[id]?.isDraining == true else { return [] }
        leaving[id]?.killNow(now)
        fileLeaving(id)
        guard let t = tasks[id], t.isActive else { return [] }
        return [.kill(taskId: id, agentId: t.agentId)]
    }
}

extension AppsCore {
    /// `DELETE /v2/deployments/{id}?force=true`: stop tracking; the app keeps its current spec.
    public mutating func forgetDeployment(_ id: String) -> [AppsDirective] {
        guard let d = deployments.removeValue(forKey: id) else { return [] }
        record(.deploymentFailed(d.info, reason: "stopped through the API"))
        if let g = d.group { finishGroupDeployment(g, failed: "stopped through the API") }
        return emitting([])
    }
}

extension AppsCore {
    /// The load balancers now following the framework. One that left is no longer waited for.
    public mutating func onLoadBalancersChanged(_ names: Set<String>, now: Instant) -> [AppsDirective] {
        loadBalancers = names
        var out: [AppsDirective] = []
        for id in leaving.keys.sorted() where leaving[id]?.isDraining == true {
            if leaving[id]?.keepWaiting(for: names) == true { out += finishDrain(id, now: now) }
        }
        return emitting(out)
    }

    /// `lb` has taken these tasks out of rotation (and finished its requests to them).
    public mutating func onDrained(_ ids: [String], by lb: String, now: Instant) -> [AppsDirective] {
        var out: [AppsDirective] = []
        for id in ids.sorted() {
            guard let waiting = leaving[id]?.waitingFor, !waiting.isEmpty else { continue }
            if leaving[id]?.keepWaiting(for: waiting.subtracting([lb])) == true { out += finishDrain(id, now: now) }
        }
        return emitting(out)
    }
}
