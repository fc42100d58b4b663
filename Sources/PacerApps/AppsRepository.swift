import Foundation
import PacerAppsCore
import PacerModel
import PacerStore

/// The framework's keys in the store: `apps/<id>`, `versions/<id>/<version>`, `tasks/<taskId>`,
/// `framework/id`. Values are JSON, readable with any SQLite or etcd client.
struct AppsRepository: Sendable {
    let store: any StateStore
    let encoder = JSONEncoder()
    let decoder = JSONDecoder()

    /// Carries out a store write (`AppsDirective.isStoreWrite`); other directives are not its.
    func write(_ d: AppsDirective) async throws {
        switch d {
        case .persistApp(let app): try await putApp(app)
        case .deleteApp(let id): try await deleteApp(id)
        case .persistTasks(let tasks): try await putTasks(tasks)
        case .deleteTasks(let ids): try await deleteTasks(ids)
        case .persistCanary(let canary): try await putCanary(canary)
        case .deleteCanary(let id): try await deleteCanary(id)
        case .persistGroup(let group): try await putGroup(group)
        case .deleteGroup(let id): try await deleteGroup(id)
        case .accept, .decline, .kill, .acknowledge, .revive, .reconcile, .publish: break
        }
    }

    func frameworkId() async throws -> String? {
        try await store.get("framework/id").map { String(decoding: $0, as: UTF8.self) }
    }
    func setFrameworkId(_ id: String) async throws { try await store.put("framework/id", Data(id.utf8)) }

    func apps() async throws -> [AppDefinition] {
        try await store.list(prefix: "apps/").values.map { try decoder.decode(AppDefinition.self, from: $0) }
    }
    func tasks() async throws -> [TaskRecord] {
        try await Self.decodeOnEveryCore(TaskRecord.self, Array(store.list(prefix: "tasks/").values))
    }

    /// Decodes large lists in one slice per core: a new leader reads every task record before it
    /// answers (50,000 at ~20 µs each), and that is part of the failover time.
    static func decodeOnEveryCore<T: Decodable & Sendable>(_ type: T.Type, _ values: [Data]) async throws -> [T] {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        guard cores > 1, values.count >= 1_000 else {
            let decoder = JSONDecoder()
            return try values.map { try decoder.decode(T.self, from: $0) }
        }
        let slice = (values.count + cores - 1) / cores
        return try await withThrowingTaskGroup(of: (Int, [T]).self) { group in
            for start in stride(from: 0, to: values.count, by: slice) {
                let part = values[start..<min(values.count, start + slice)]
                group.addTask {
                    let decoder = JSONDecoder()
                    return (start, try part.map { try decoder.decode(T.self, from: $0) })
                }
            }
            var parts: [(start: Int, items: [T])] = []
            for try await part in group { parts.append(part) }
            return parts.sorted { $0.start < $1.start }.flatMap(\.items)
        }
    }
    func versions(of id: PathId) async throws -> [String: AppDefinition] {
        let prefix = "versions\(id)/"
        var out: [String: AppDefinition] = [:]
        for (key, value) in try await store.list(prefix: prefix) {
            out[String(key.dropFirst(prefix.count))] = try decoder.decode(AppDefinition.self, from: value)
        }
        return out
    }

    func putApp(_ app: AppDefinition) async throws {
        let data = try encoder.encode(app)
        try await store.apply([.put("apps\(app.id)", data), .put("versions\(app.id)/\(app.version ?? "")", data)])
    }
    func deleteApp(_ id: PathId) async throws {
        let versions = try await store.list(prefix: "versions\(id)/").keys
        try await store.apply([.delete("apps\(id)")] + versions.map { .delete($0) })
    }
    /// In writes of at most `taskWrite` records: task records stand alone, and an API change's write
    /// waits for the write before it — behind one of thousands of launched tasks, a POST waited
    /// up to 0.5 s at 2,000 agents. All are written before the caller goes on (launches wait).
    func putTasks(_ tasks: [TaskRecord]) async throws {
        for start in stride(from: 0, to: tasks.count, by: Self.taskWrite) {
            let part = tasks[start..<min(tasks.count, start + Self.taskWrite)]
            try await store.apply(try part.map { .put("tasks/\($0.id)", try encoder.encode($0)) })
        }
    }

    static let taskWrite = 250
    func deleteTasks(_ ids: [String]) async throws { try await store.apply(ids.map { .delete("tasks/\($0)") }) }

    func deployments() async throws -> [Deployment] {
        try await store.list(prefix: "deployments/").values.map { try decoder.decode(Deployment.self, from: $0) }
    }
    /// Makes the stored deployments exactly `current`: new ones written, ended ones removed (the
    /// others are already there; rewriting every deployment on each change was quadratic).
    func syncDeployments(_ current: [String: Deployment], stored: Set<String>) async throws {
        var ops: [StoreOp] = try current.values.filter { !stored.contains($0.info.id) }
            .map { .put("deployments/\($0.info.id)", try encoder.encode($0)) }
        ops += stored.subtracting(current.keys).map { .delete("deployments/\($0)") }
        try await store.apply(ops)
    }

    /// `/v2/eventSubscriptions` callback URLs, stored as one JSON list under `events/callbacks`.
    func callbacks() async throws -> [String] {
        guard let data = try await store.get("events/callbacks") else { return [] }
        return try decoder.decode([String].self, from: data)
    }
    func putCallbacks(_ urls: [String]) async throws { try await store.put("events/callbacks", try encoder.encode(urls)) }

    /// Explicit groups, `groups/<id>`, and each group change's result, `groupversions/<id>/<version>`
    /// (the group as `/v2/groups/{id}` showed it then, apps included).
    func groups() async throws -> [GroupRecord] {
        try await store.list(prefix: "groups/").values.map { try decoder.decode(GroupRecord.self, from: $0) }
    }
    func putGroup(_ group: GroupRecord) async throws { try await store.put("groups\(group.id)", try encoder.encode(group)) }
    func deleteGroup(_ id: PathId) async throws {
        let versions = try await store.list(prefix: "groupversions\(id.isRoot ? "" : id.description)/").keys
        try await store.apply(
            [.delete("groups\(id)")] + versions.filter { $0.hasPrefix("groupversions\(id)/") || id.isRoot }.map { .delete($0) })
    }
    func putGroupVersion(_ id: PathId, version: String, _ snapshot: Data) async throws {
        try await store.put("groupversions\(id.isRoot ? "" : id.description)/\(version)", snapshot)
    }
    func groupVersions(of id: PathId) async throws -> [String: Data] {
        let prefix = "groupversions\(id.isRoot ? "" : id.description)/"
        var out: [String: Data] = [:]
        for (key, value) in try await store.list(prefix: prefix) {
            let rest = key.dropFirst(prefix.count)
            if !rest.contains("/") { out[String(rest)] = value }  // not a subgroup's
        }
        return out
    }

    /// Canaries in progress, `canaries/<app id>`.
    func canaries() async throws -> [Canary] {
        try await store.list(prefix: "canaries/").values.map { try decoder.decode(Canary.self, from: $0) }
    }
    func putCanary(_ canary: Canary) async throws { try await store.put("canaries\(canary.spec.id)", try encoder.encode(canary)) }
    func deleteCanary(_ id: PathId) async throws { try await store.delete("canaries\(id)") }
}
