/// What the load balancer needs of an app: its id, labels (marathon-lb's), service ports, whether it
/// has health checks, and its tasks. Decoded leniently from `/v2/apps?embed=apps.tasks` — Pacer's
/// or a real Marathon's: an app or task missing what routing needs is skipped (and counted), never
/// the reason the whole table goes stale.
public struct RoutedApp: Sendable, Equatable {
    public var id: String
    public var labels: [String: String]
    /// Service port per port index (0: none assigned).
    public var servicePorts: [Int]
    public var healthChecks: Int
    public var tasks: [String: RoutedTask]

    public init(id: String, labels: [String: String] = [:], servicePorts: [Int], healthChecks: Int = 0, tasks: [RoutedTask] = [])
    {
        self.id = id
        self.labels = labels
        self.servicePorts = servicePorts
        self.healthChecks = healthChecks
        self.tasks = Dictionary(tasks.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    }
}

public struct RoutedTask: Sendable, Equatable {
    public var id: String
    public var host: String
    public var ports: [Int]
    public var running: Bool
    /// Every health check passes (nil: no verdict yet).
    public var healthy: Bool?
    /// Readiness checks passed (nil: the app has none, or not known).
    public var ready: Bool?
    public var draining: Bool

    public init(
        id: String, host: String, ports: [Int], running: Bool, healthy: Bool? = nil, ready: Bool? = nil, draining: Bool = false
    ) {
        self.id = id
        self.host = host
        self.ports = ports
        self.running = running
        self.healthy = healthy
        self.ready = ready
        self.draining = draining
    }

    /// Traffic goes only to a task that runs, passes every health check (apps without checks:
    /// runs), is ready and is not draining. A task with no verdict yet receives nothing.
    public func eligible(checks: Int) -> Bool {
        running && !draining && ready != false && (checks == 0 || healthy == true)
    }
}

/// Decodes a `T` or nothing: one malformed element of an array must not fail the whole array.
/// (A failing element still advances the array's container, because this wrapper succeeds.)
public struct Lenient<T: Decodable>: Decodable {
    public let value: T?
    public init(from decoder: any Decoder) throws { value = try? T(from: decoder) }
}

/// `/v2/apps?embed=apps.tasks`, app by app and task by task.
public struct AppsSnapshot: Decodable {
    public var apps: [RoutedApp]
    /// Apps and tasks that could not be used (no id, no host, …).
    public var skippedApps = 0
    public var skippedTasks = 0

    enum Keys: String, CodingKey { case apps }

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.container(keyedBy: Keys.self).decode([Lenient<AppJSON>].self, forKey: .apps)
        apps = []
        for entry in raw {
            guard let app = entry.value else {
                skippedApps += 1
                continue
            }
            apps.append(app.routed)
            skippedTasks += app.skippedTasks
        }
    }
}

/// `GET /v2/apps/{id}`: `{"app": …}`.
public struct AppAnswer: Decodable {
    public var app: RoutedApp?
    public var skippedTasks = 0
    enum Keys: String, CodingKey { case app }
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.container(keyedBy: Keys.self).decode(Lenient<AppJSON>.self, forKey: .app).value
        app = raw?.routed
        skippedTasks = raw?.skippedTasks ?? 0
    }
}

/// The fields of an app the LB reads, as Pacer and Marathon send them (`portDefinitions`, or the
/// older `ports`).
struct AppJSON: Decodable {
    struct PortDefinition: Decodable { var port: Int? }
    struct Check: Decodable {}
    var id: String
    var labels: [String: String]?
    var portDefinitions: [Lenient<PortDefinition>]?
    var ports: [Int]?
    var healthChecks: [Lenient<Check>]?
    var tasks: [Lenient<TaskJSON>]?

    var skippedTasks: Int { (tasks ?? []).filter { $0.value?.routed(checks: 0) == nil }.count }

    var routed: RoutedApp {
        let service = portDefinitions.map { $0.map { $0.value?.port ?? 0 } } ?? ports ?? []
        let checks = healthChecks?.count ?? 0
        return RoutedApp(
            id: id, labels: labels ?? [:], servicePorts: service, healthChecks: checks,
            tasks: (tasks ?? []).compactMap { $0.value?.routed(checks: checks) })
    }
}

/// The fields of a task the LB reads. Pacer's own (readiness, draining) under `pacer` when asked
/// for with `embed=pacer`.
struct TaskJSON: Decodable {
    struct Result: Decodable { var alive: Bool? }
    struct Extra: Decodable {
        var ready: Bool?
        var draining: Bool?
    }
    var id: String?
    var host: String?
    var ports: [Int]?
    var state: String?
    var healthCheckResults: [Lenient<Result>]?
    var ready: Bool?
    var draining: Bool?
    var pacer: Extra?

    /// Healthy once every one of the app's `checks` has a passing result; unhealthy as soon as one fails.
    func routed(checks: Int) -> RoutedTask? {
        guard let id, let host, !host.isEmpty else { return nil }
        let results = (healthCheckResults ?? []).compactMap { $0.value?.alive }
        let healthy: Bool? = results.contains(false) ? false : (checks > 0 && results.count >= checks) ? true : nil
        return RoutedTask(
            id: id, host: host, ports: ports ?? [], running: state == "TASK_RUNNING", healthy: healthy,
            ready: pacer?.ready ?? ready, draining: (pacer?.draining ?? draining) == true)
    }
}
