import Foundation
import PacerAppsCore
import PacerModel
import PacerStore

/// A follower's copy of the leader's apps and task records, kept current by etcd's watch and
/// decoded as it goes, so that once elected the follower has its state at hand instead of reading
/// and decoding every record: at 50,000 tasks that read was ~1 s of the framework's failover
/// (3.1–3.4 s, target ≤ 3 s; issue 12).
///
/// Only a cache: once elected the copy is used only if its watch has delivered the follower's own
/// election (every earlier write, the old leader's last ones included, came before it); otherwise
/// the leader reads the store in full.
actor WarmStandby {
    private let store: EtcdStore
    private var apps: [String: AppDefinition] = [:]
    private var tasks: [String: TaskRecord] = [:]
    /// Changes not decoded yet, by key (nil: deleted).
    private var pending: [String: Data?] = [:]
    /// Every change up to this revision is in `pending` or decoded.
    private var seen: Int64 = 0
    /// Bumped at every fresh read, so a decode begun before it is not applied after it.
    private var generation = 0
    /// A record this version cannot read came in: the copy is not used (the full read says why).
    private var unusable = false

    init(store: EtcdStore) { self.store = store }

    /// Reads apps and tasks at one revision, then follows every change from the next one, decoding
    /// what changed every `interval`, until cancelled; after a failure (or a watch etcd cancelled,
    /// its revision compacted) it starts over a second later.
    func keepWarm(decodingEvery interval: Duration) async {
        await withDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    await self.decodePending()
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    do {
                        let revision = try await self.readAfresh()
                        try await self.store.watchNamespace(from: revision + 1) { await self.apply($0) }
                    } catch {}
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
    }

    private func readAfresh() async throws -> Int64 {
        let (revision, appValues) = try await store.list(prefix: "apps/", at: nil)
        let (_, taskValues) = try await store.list(prefix: "tasks/", at: revision)
        generation += 1
        apps = [:]
        tasks = [:]
        pending = appValues.merging(taskValues) { a, _ in a }.mapValues { Optional($0) }
        seen = revision
        unusable = false
        return revision
    }

    private func apply(_ changes: [WatchedChange]) {
        for c in changes {
            seen = max(seen, c.revision)
            if c.key.hasPrefix("apps/") || c.key.hasPrefix("tasks/") { pending[c.key] = .some(c.value) }
        }
    }

    /// Decodes what changed (on every core); a key changed again meanwhile waits for the next turn.
    private func decodePending() async {
        guard !pending.isEmpty else { return }
        let batch = Array(pending)
        let started = generation
        pending = [:]
        let puts = batch.compactMap { k, v in v.map { (k, $0) } }
        let appPuts = puts.filter { $0.0.hasPrefix("apps/") }
        let taskPuts = puts.filter { $0.0.hasPrefix("tasks/") }
        guard let decodedApps = try? await AppsRepository.decodeOnEveryCore(AppDefinition.self, appPuts.map(\.1)),
            let decodedTasks = try? await AppsRepository.decodeOnEveryCore(TaskRecord.self, taskPuts.map(\.1))
        else {
            if started == generation { unusable = true }
            return
        }
        guard started == generation else { return }
        for (key, value) in batch where value == nil && pending[key] == nil {
            apps[key] = nil
            tasks[key] = nil
        }
        for ((key, _), app) in zip(appPuts, decodedApps) where pending[key] == nil { apps[key] = app }
        for ((key, _), task) in zip(taskPuts, decodedTasks) where pending[key] == nil { tasks[key] = task }
    }

    /// The apps and tasks as the store has them at `revision` or later (the election's, which the
    /// watch delivers since the election key is in the namespace); nil when the watch has not
    /// got that far within a second (it is not running, or lags).
    func current(atLeast revision: Int64) async -> (apps: [AppDefinition], tasks: [TaskRecord])? {
        let deadline = ContinuousClock.now + .seconds(1)
        while seen < revision {
            guard ContinuousClock.now < deadline else { return nil }
            try? await Task.sleep(for: .milliseconds(5))
        }
        await decodePending()
        guard !unusable else { return nil }
        return (Array(apps.values), Array(tasks.values))
    }

    /// What the copy holds (for tests): apps and tasks decoded, changes not yet decoded, the revision seen.
    var counts: (apps: Int, tasks: Int, pending: Int, revision: Int64) { (apps.count, tasks.count, pending.count, seen) }
}

/// A new leader's warm copy: the revision the copy must have seen (its election's), and the task
/// keeping it, stopped once the copy is taken.
struct WarmTakeover: Sendable {
    let copy: WarmStandby
    let revision: Int64
    let keeper: Task<Void, Never>

    func take() async -> (apps: [AppDefinition], tasks: [TaskRecord])? {
        defer { keeper.cancel() }
        return await copy.current(atLeast: revision)
    }
}
