import PacerAppsCore
import PacerModel
import PacerServerKit

/// A consistent picture of apps, tasks and deployments at one moment, for the read endpoints
/// (`/v2/apps`, `/v2/tasks`, …), answered without the scheduler actor.
struct ReadView: Sendable {
    let apps: [PathId: AppDefinition]
    let tasks: TaskTable
    let deployments: DeploymentTable
    let lastFailure: [PathId: TaskFailure]

    func records(of app: PathId) -> [TaskRecord] {
        tasks.of(app: app).sorted(byKey: { ($0.stagedAt, $0.id) }, <)
    }

    func status(of app: AppDefinition, embedTasks: Bool) -> AppStatus {
        var s = AppStatus(app: RequestPrincipal.showsSecrets ? app : app.redactingSecrets())
        // Sorted only when shown: counting needs no order, and sorting every app's records for a
        // plain `/v2/apps` was most of its cost at 50,000 tasks.
        let tasks = embedTasks ? records(of: app.id) : self.tasks.of(app: app.id)
        for t in tasks {
            switch t.state {
            case .staging, .starting: s.tasksStaged += 1
            case .running:
                s.tasksRunning += 1
                if t.healthy == true { s.tasksHealthy += 1 } else if t.healthy == false { s.tasksUnhealthy += 1 }
            default: break
            }
        }
        s.deployments = deployments.of(app: app.id).map { [$0.info.id] } ?? []
        if embedTasks { s.tasks = tasks.map { MarathonTask($0, role: app.role) } }
        s.lastTaskFailure = lastFailure[app.id]
        return s
    }

    func statuses(embedTasks: Bool, idFilter: String?) -> [AppStatus] {
        apps.values.sorted { $0.id < $1.id }
            .filter { app in idFilter.map { app.id.description.contains($0) } ?? true }
            .map { status(of: $0, embedTasks: embedTasks) }
    }

    func tasks(of app: PathId?) -> [MarathonTask] {
        if let app { return records(of: app).map { MarathonTask($0, role: apps[app]?.role) } }
        // By app, then by id: app ids sorted once (a thousand), each app's few records by id. One
        // sort of every record by (app, id) compared paths 800,000 times at 50,000 tasks.
        var out: [MarathonTask] = []
        out.reserveCapacity(tasks.count)
        for appId in tasks.appIds.sorted() {
            let role = apps[appId]?.role
            out += tasks.of(app: appId).sorted(byKey: \.id, <).map { MarathonTask($0, role: role) }
        }
        return out
    }

    func taskIds(of app: PathId, host: String?) -> [String] {
        records(of: app).filter { host == nil || $0.host == host }.map(\.id)
    }
}

extension Array where Element == TaskRecord {
    /// Sorted by a key read once per record, the records gathered after. Sorting the records
    /// themselves moved and retained 10,000 large values per app, each comparison reading the key
    /// through the shared placement again: 47 % of the CPU of `/v2/tasks` and
    /// `/v2/apps?embed=apps.tasks` at 50,000 tasks (perf), 23 % this way.
    fileprivate func sorted<Key>(byKey key: (TaskRecord) -> Key, _ less: (Key, Key) -> Bool) -> [TaskRecord] {
        let keys = map(key)
        return keys.indices.sorted { less(keys[$0], keys[$1]) }.map { self[$0] }
    }
}
