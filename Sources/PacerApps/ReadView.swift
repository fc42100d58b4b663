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
        var s = embedded(app, embedTasks: embedTasks)
        s.status.tasks = s.tasks?.map { MarathonTask($0, role: app.role) }
        return s.status
    }

    /// An app's status, its tasks (when embedded) as records for `BulkJSON` to write.
    func embedded(_ app: AppDefinition, embedTasks: Bool) -> EmbeddedStatus {
        var s = AppStatus(app: RequestPrincipal.showsSecrets ? app : app.redactingSecrets())
        // Counts kept by the task table: copying an app's records to count them was 20 % of the
        // framework's CPU while 50,000 tasks were placed and `/v2/apps` was polled.
        let counts = tasks.counts(of: app.id)
        s.tasksStaged = counts.staged
        s.tasksRunning = counts.running
        s.tasksHealthy = counts.healthy
        s.tasksUnhealthy = counts.unhealthy
        s.deployments = deployments.of(app: app.id).map { [$0.info.id] } ?? []
        s.lastTaskFailure = lastFailure[app.id]
        return EmbeddedStatus(status: s, tasks: embedTasks ? records(of: app.id) : nil)
    }

    func statuses(embedTasks: Bool, idFilter: String?) -> [EmbeddedStatus] {
        // Ids sorted, not specs: sorting a thousand whole definitions moved kilobytes each.
        apps.keys.sorted()
            .filter { id in idFilter.map { id.description.contains($0) } ?? true }
            .compactMap { apps[$0].map { embedded($0, embedTasks: embedTasks) } }
    }

    /// One app's records (by staging time, then id), or every app's (by app, then id), with the
    /// app's role.
    func taskGroups(of app: PathId?) -> [TaskGroup] {
        if let app { return [TaskGroup(appId: app, role: apps[app]?.role, records: records(of: app))] }
        // By app, then by id: app ids sorted once (a thousand), each app's few records by id. One
        // sort of every record by (app, id) compared paths 800,000 times at 50,000 tasks.
        return tasks.appIds.sorted().map { appId in
            TaskGroup(appId: appId, role: apps[appId]?.role, records: tasks.of(app: appId).sorted(byKey: \.id, <))
        }
    }

    func tasks(of app: PathId?) -> [MarathonTask] {
        taskGroups(of: app).flatMap { g in g.records.map { MarathonTask($0, role: g.role) } }
    }

    func taskIds(of app: PathId, host: String?) -> [String] {
        records(of: app).filter { host == nil || $0.host == host }.map(\.id)
    }
}

/// An app's status with its tasks as records (nil: not embedded), for `BulkJSON` to write.
struct EmbeddedStatus: Sendable {
    var status: AppStatus
    var tasks: [TaskRecord]?
}

/// One app's task records, with its role (written in each task).
struct TaskGroup: Sendable {
    var appId: PathId
    var role: String?
    var records: [TaskRecord]
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
