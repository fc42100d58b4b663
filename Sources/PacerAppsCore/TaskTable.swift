import PacerModel

/// The framework's task records, by id and by app. Plans, placement and the API ask per app; a
/// scan of every task for each of those made a cluster of 20,000 tasks stall (issue 12).
public struct TaskTable: Sendable {
    public private(set) var byId: [String: TaskRecord] = [:]
    private var byApp: [PathId: Set<String>] = [:]
    /// Tasks still staging: the launch timeout watches these, not all of them.
    public private(set) var staging: Set<String> = []
    /// Per app, how many of its tasks are not terminal.
    private var active: [PathId: Int] = [:]
    /// Per app, how many of its tasks are staged, running, healthy and unhealthy; and every task
    /// by state. Kept as records change so `/metrics` and a plain `/v2/apps` cost the number of
    /// apps, not of tasks (a scrape took 19 % of the framework's CPU at 50,000 tasks, on the actor
    /// that places them; counting from copied records was 20 % of it while apps were placed).
    private var counts: [PathId: AppTaskCounts] = [:]
    /// Per app, its active tasks by version: whether an app runs only its current spec is a
    /// lookup, not a scan (placement asks for every app on every batch of offers).
    private var activeVersions: [PathId: [String: Int]] = [:]
    public private(set) var countByState: [TaskState: Int] = [:]

    public init(_ records: [TaskRecord] = []) {
        for r in records where byId[r.id] == nil { self[r.id] = r }
    }

    /// Setting a record files it under its app; setting nil removes it.
    public subscript(id: String) -> TaskRecord? {
        get { byId[id] }
        set {
            if let old = byId[id] {
                if old.isActive {
                    active[old.appId, default: 1] -= 1
                    activeVersions[old.appId, default: [:]][old.version, default: 1] -= 1
                    if activeVersions[old.appId]?[old.version] == 0 { activeVersions[old.appId]?[old.version] = nil }
                    if activeVersions[old.appId]?.isEmpty == true { activeVersions[old.appId] = nil }
                }
                counts[old.appId, default: AppTaskCounts()].add(old, -1)
                if counts[old.appId]?.isEmpty == true { counts[old.appId] = nil }
                countByState[old.state, default: 1] -= 1
                if countByState[old.state] == 0 { countByState[old.state] = nil }
            }
            if let newValue {
                if newValue.isActive {
                    active[newValue.appId, default: 0] += 1
                    activeVersions[newValue.appId, default: [:]][newValue.version, default: 0] += 1
                }
                counts[newValue.appId, default: AppTaskCounts()].add(newValue, 1)
                countByState[newValue.state, default: 0] += 1
            }
            if let old = byId[id], old.appId != newValue?.appId {
                byApp[old.appId]?.remove(id)
                if byApp[old.appId]?.isEmpty == true { byApp[old.appId] = nil }
            }
            if let newValue { byApp[newValue.appId, default: []].insert(id) }
            if newValue?.state == .staging { staging.insert(id) } else { staging.remove(id) }
            byId[id] = newValue
        }
    }

    public var values: Dictionary<String, TaskRecord>.Values { byId.values }
    public var keys: Dictionary<String, TaskRecord>.Keys { byId.keys }
    public var count: Int { byId.count }
    public var isEmpty: Bool { byId.isEmpty }

    /// The records of one app, in no particular order.
    public func of(app: PathId) -> [TaskRecord] { (byApp[app] ?? []).compactMap { byId[$0] } }

    public func hasTasks(of app: PathId) -> Bool { byApp[app] != nil }

    /// The ids of one app's records (no copies of the records).
    public func ids(of app: PathId) -> Set<String> { byApp[app] ?? [] }

    public func activeCount(of app: PathId) -> Int { active[app] ?? 0 }

    public func runningCount(of app: PathId) -> Int { counts[app]?.running ?? 0 }

    /// Marathon's `tasksStaged`, `tasksRunning`, `tasksHealthy`, `tasksUnhealthy` of one app.
    public func counts(of app: PathId) -> AppTaskCounts { counts[app] ?? AppTaskCounts() }

    /// Whether every active task of the app runs `version` (true with none).
    public func allActive(of app: PathId, run version: String) -> Bool {
        guard let versions = activeVersions[app] else { return true }
        return versions.count == 1 && versions[version] != nil
    }

    /// Apps that have records (an app being removed keeps its until they are gone).
    public var appIds: Dictionary<PathId, Set<String>>.Keys { byApp.keys }
}

/// An app's task counts as Marathon reports them: staged (staging or starting), running, and of
/// the running those whose health checks pass or fail.
public struct AppTaskCounts: Sendable, Equatable {
    public private(set) var staged = 0
    public private(set) var running = 0
    public private(set) var healthy = 0
    public private(set) var unhealthy = 0

    public init() {}

    public init(_ records: some Sequence<TaskRecord>) {
        for r in records { add(r, 1) }
    }

    var isEmpty: Bool { staged == 0 && running == 0 && healthy == 0 && unhealthy == 0 }

    /// Counts `record` in (`by` 1) or out (-1).
    mutating func add(_ record: TaskRecord, _ by: Int) {
        switch record.state {
        case .staging, .starting: staged += by
        case .running:
            running += by
            if record.healthy == true { healthy += by } else if record.healthy == false { unhealthy += by }
        default: break
        }
    }
}
