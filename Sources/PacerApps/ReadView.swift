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
        tasks.of(app: app).sorted { ($0.stagedAt, $0.id) < ($1.stagedAt, $1.id) }
    }

    func status(of app: AppDefinition, embedTasks: Bool) -> AppStatus {
        var s = AppStatus(app: RequestPrincipal.showsSecrets ? app : app.redactingSecrets())
        let tasks = records(of: app.id)
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
        let list = app.map { records(of: $0) } ?? tasks.values.sorted { ($0.appId, $0.id) < ($1.appId, $1.id) }
        return list.map { MarathonTask($0, role: apps[$0.appId]?.role) }
    }

    func taskIds(of app: PathId, host: String?) -> [String] {
        records(of: app).filter { host == nil || $0.host == host }.map(\.id)
    }
}
