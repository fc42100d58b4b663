import Foundation

/// What one event from `/v2/events` means for routing (Marathon's event types and Pacer's own).
public enum DiscoveryEvent: Sendable, Equatable {
    /// A task's state, where it runs (`status_update_event`).
    case status(appId: String, taskId: String, state: String, host: String?, ports: [Int]?)
    /// All of a task's health checks pass, or one fails (`health_status_changed_event`).
    case health(appId: String, taskId: String, alive: Bool)
    /// Pacer: the task is being taken out of rotation before its kill.
    case draining(appId: String, taskId: String)
    /// Pacer: the task's readiness checks passed.
    case ready(appId: String, taskId: String)
    /// The definition of these apps changed (labels, ports, checks, scale): fetch them again.
    case appsChanged([String])
    case appRemoved(String)

    struct Fields: Decodable {
        struct Plan: Decodable { var affectedApps: [String]? }
        struct AppDefinition: Decodable { var id: String? }
        var appId: String?
        var taskId: String?
        var instanceId: String?
        var taskStatus: String?
        var host: String?
        var ports: [Int]?
        var alive: Bool?
        var plan: Plan?
        var appDefinition: AppDefinition?
    }

    /// nil: an event routing does not depend on (or one without what it needs).
    public static func parse(type: String, data: Data) -> DiscoveryEvent? {
        guard let f = try? JSONDecoder().decode(Fields.self, from: data) else { return nil }
        let taskId = f.taskId ?? f.instanceId
        switch type {
        case "status_update_event":
            guard let app = f.appId, let task = taskId, let state = f.taskStatus else { return nil }
            return .status(appId: app, taskId: task, state: state, host: f.host, ports: f.ports)
        case "health_status_changed_event":
            guard let app = f.appId, let task = taskId, let alive = f.alive else { return nil }
            return .health(appId: app, taskId: task, alive: alive)
        case "instance_draining_event":
            guard let app = f.appId, let task = taskId else { return nil }
            return .draining(appId: app, taskId: task)
        case "instance_ready_event":
            guard let app = f.appId, let task = taskId else { return nil }
            return .ready(appId: app, taskId: task)
        case "app_terminated_event":
            return f.appId.map { .appRemoved($0) }
        case "api_post_event":
            return f.appDefinition?.id.map { .appsChanged([$0]) }
        case "deployment_info", "deployment_success", "deployment_failed", "deployment_step_success":
            return f.plan?.affectedApps.map { .appsChanged($0) }
        default:
            return nil
        }
    }
}

/// The load balancer's picture of the framework's apps and tasks, kept current by applying events
/// one by one (re-reading every app after each burst of events cost seconds at 50,000 tasks), with
/// the routes of changed apps rebuilt. Pure: the shell fetches, this decides.
public struct DiscoveryModel: Sendable {
    public private(set) var apps: [String: RoutedApp] = [:]
    /// Routes per app, rebuilt only for apps that changed.
    private var routes: [String: [ServiceRoute]] = [:]
    private var changed: Set<String> = []
    /// Tasks draining, kept as apps change (a scan of every task after each batch of events cost
    /// milliseconds per batch at 50,000 tasks).
    public private(set) var draining: Set<String> = []
    /// Tasks that left the table with their app (deleted, or missing when fetched again): out of
    /// rotation here once the workers run a table without them, which the shell tells the framework
    /// as it does for draining tasks (`takeRemoved`). A deleted app's tasks drain before they are
    /// killed, but the app left this model in the same batch of events, so no drain was ever
    /// acknowledged and the framework waited its whole drain timeout (10 s) for each of them.
    public private(set) var removed: Set<String> = []
    /// Apps an event named that are not known (yet): to fetch.
    public private(set) var unknown: Set<String> = []
    public let group: String?

    public init(group: String?) { self.group = group }

    /// A whole snapshot: what it holds replaces everything.
    public mutating func replaceAll(_ list: [RoutedApp]) {
        let next = Dictionary(list.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        changed.formUnion(Set(apps.keys).union(next.keys))
        for (id, app) in apps { noteRemoved(from: app, keeping: next[id]) }
        apps = next
        unknown = []
        draining = []
        for app in apps.values { for t in app.tasks.values where t.draining { draining.insert(t.id) } }
    }

    /// One app as fetched again (nil: it no longer exists).
    public mutating func replace(_ id: String, with app: RoutedApp?) {
        if let gone = apps[id] {
            for t in gone.tasks.values { draining.remove(t.id) }
            noteRemoved(from: gone, keeping: app)
        }
        if let app { for t in app.tasks.values where t.draining { draining.insert(t.id) } }
        apps[id] = app
        changed.insert(id)
        unknown.remove(id)
    }

    /// Applies an event; returns the apps to fetch again (their definition changed, or a task of
    /// an app not known yet).
    @discardableResult
    public mutating func apply(_ event: DiscoveryEvent) -> [String] {
        switch event {
        case .status(let appId, let taskId, let state, let host, let ports):
            guard apps[appId] != nil else { return need(appId) }
            if ["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_UNREACHABLE"].contains(state) {
                var t = apps[appId]!.tasks[taskId] ?? RoutedTask(id: taskId, host: host ?? "", ports: ports ?? [], running: false)
                if let host, !host.isEmpty { t.host = host }
                if let ports { t.ports = ports }
                t.running = state == "TASK_RUNNING"
                if state == "TASK_KILLING" { t.draining = true }
                update(appId, taskId, t)
            } else {
                update(appId, taskId, nil)  // terminal: gone
            }
        case .health(let appId, let taskId, let alive):
            guard var t = apps[appId]?.tasks[taskId] else { return apps[appId] == nil ? need(appId) : [] }
            t.healthy = alive
            update(appId, taskId, t)
        case .draining(let appId, let taskId):
            guard var t = apps[appId]?.tasks[taskId] else { return apps[appId] == nil ? need(appId) : [] }
            t.draining = true
            update(appId, taskId, t)
        case .ready(let appId, let taskId):
            guard var t = apps[appId]?.tasks[taskId] else { return apps[appId] == nil ? need(appId) : [] }
            t.ready = true
            update(appId, taskId, t)
        case .appsChanged(let ids):
            return ids
        case .appRemoved(let id):
            replace(id, with: nil)
        }
        return []
    }

    /// The removed tasks noted since the last call.
    public mutating func takeRemoved() -> Set<String> {
        defer { removed = [] }
        return removed
    }

    private mutating func noteRemoved(from old: RoutedApp, keeping new: RoutedApp?) {
        for id in old.tasks.keys where new?.tasks[id] == nil { removed.insert(id) }
    }

    mutating func need(_ appId: String) -> [String] {
        unknown.insert(appId)
        return [appId]
    }

    mutating func update(_ appId: String, _ taskId: String, _ task: RoutedTask?) {
        guard apps[appId] != nil, apps[appId]?.tasks[taskId] != task else { return }
        apps[appId]?.tasks[taskId] = task
        if task?.draining == true { draining.insert(taskId) } else { draining.remove(taskId) }
        changed.insert(appId)
    }

    /// The table for `current`, with the routes of apps changed since the last call rebuilt.
    public mutating func table(updating current: RoutingTable) -> RoutingTable {
        guard !changed.isEmpty else { return current }
        for id in changed {
            routes[id] = apps[id].map { RoutingTable.routes(for: $0, group: group) }
        }
        changed = []
        var services: [Int: ServiceRoute] = [:]
        for list in routes.values {
            for r in list where services[r.servicePort] == nil || services[r.servicePort]!.appId < r.appId {
                services[r.servicePort] = r
            }
        }
        var next = RoutingTable(services: services)
        next.frameworks = current.frameworks
        return next
    }
}
