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

    public init(_ records: [TaskRecord] = []) {
        for r in records where byId[r.id] == nil { self[r.id] = r }
    }

    /// Setting a record files it under its app; setting nil removes it.
    public subscript(id: String) -> TaskRecord? {
        get { byId[id] }
        set {
            if let old = byId[id], old.isActive { active[old.appId, default: 1] -= 1 }
            if let newValue, newValue.isActive { active[newValue.appId, default: 0] += 1 }
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

    public func activeCount(of app: PathId) -> Int { active[app] ?? 0 }

    /// Apps that have records (an app being removed keeps its until they are gone).
    public var appIds: Dictionary<PathId, Set<String>>.Keys { byApp.keys }
}
