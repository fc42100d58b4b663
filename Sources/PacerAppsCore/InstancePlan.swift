import PacerModel

/// How many tasks of one app to launch and which to kill, right now. Pure arithmetic over the
/// app's live tasks, following `upgradeStrategy` while old-version tasks remain:
/// never more than `(1 + maximumOverCapacity) × instances` tasks, never fewer than
/// `minimumHealthCapacity × instances` running, new tasks running before old ones go.
public struct InstancePlan: Equatable, Sendable {
    public var launch: Int
    public var kill: [String]

    public static func make(app: AppDefinition, live: [TaskRecord]) -> InstancePlan {
        let n = app.instances
        let version = app.configVersion
        let current = live.filter { $0.version == version }
        let old = live.filter { $0.version != version }
        if old.isEmpty {
            if current.count > n {
                return InstancePlan(launch: 0, kill: surplus(current, count: current.count - n, app.killSelection, app))
            }
            return InstancePlan(launch: n - current.count, kill: [])
        }
        let maxTotal = n + Int((Double(n) * app.upgradeStrategy.maximumOverCapacity).rounded(.down))
        let minRunning = Int((Double(n) * app.upgradeStrategy.minimumHealthCapacity).rounded(.up))
        let wanted = max(0, n - current.count)
        // Room to start new tasks beside the old ones; with no room at all, old ones must go first.
        let launch = min(wanted, max(0, maxTotal - live.count))
        let running = live.filter { isServing($0, app) }.count
        let currentRunning = current.filter { isServing($0, app) }.count
        var killable = currentRunning >= n ? old.count : max(0, running - minRunning)
        if launch == 0 && wanted > 0 && killable == 0 && maxTotal <= live.count && currentRunning == current.count {
            // No room to surge and nothing new still starting: the only way forward is to replace
            // one at a time, as Marathon does for capacity 1.0 with no over-capacity.
            killable = 1
        }
        let kill = surplus(old, count: min(killable, old.count), .oldestFirst, app)
        return InstancePlan(launch: launch, kill: kill)
    }

    /// Running, healthy when the app has health checks, ready when it has readiness checks:
    /// what counts toward capacity while a deployment replaces tasks.
    public static func isServing(_ t: TaskRecord, _ app: AppDefinition) -> Bool {
        t.state == .running && (app.healthChecks.isEmpty || t.healthy == true)
            && (app.readinessChecks.isEmpty || t.ready == true)
    }

    /// Tasks that serve nobody (not running, unhealthy, not ready) go first, then by the app's kill selection.
    static func surplus(_ tasks: [TaskRecord], count: Int, _ selection: KillSelection, _ app: AppDefinition) -> [String] {
        let ordered = tasks.sorted { a, b in
            let (sa, sb) = (isServing(a, app), isServing(b, app))
            if sa != sb { return !sa }
            if a.stagedAt != b.stagedAt { return selection == .youngestFirst ? a.stagedAt > b.stagedAt : a.stagedAt < b.stagedAt }
            return a.id < b.id
        }
        return ordered.prefix(count).map(\.id)
    }
}
