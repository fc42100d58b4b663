import Foundation
import PacerAppsCore
import PacerModel
import PacerStore

/// A follower's copy of the leader's apps and task records, decoded, so that once elected it has
/// its state at hand instead of reading and decoding every record: at 50,000 tasks that read was
/// ~1 s of the framework's failover (3.1–3.4 s, target ≤ 3 s; issue 12).
///
/// Kept current cheaply for etcd: every few seconds one read of what changed since the last
/// (`min_mod_revision`: a record written five times comes once), and a watch that carries
/// deletions only. (Watching every write instead — 150,000 events of a kilobyte while 50,000 tasks
/// are placed, each marshalled to JSON by etcd's gateway — halved placement on etcd.)
///
/// Only a cache: once elected, the copy is brought to a revision after the election and used only
/// if its counts match the store's there (a deletion the watch has not delivered yet would show as
/// one record too many); otherwise the leader reads the store in full.
actor WarmStandby {
    private let store: EtcdStore
    private var lists = [Prefix.apps: Records(), Prefix.tasks: Records()]
    /// Puts up to this revision are in `lists`; 0: not read yet (or to be read afresh).
    private var synced: Int64 = 0
    /// Deletions the watch delivered after `synced`, by key: a read at an earlier revision must
    /// not bring those records back.
    private var deletedAt: [String: Int64] = [:]
    /// Bumped at every fresh read: a watch from before it is stale.
    private var generation = 0
    private var deletionWatch: Task<Void, Never>?
    private var lastSync = ContinuousClock.now
    /// Revisions since the last read above which the store counts as busy. (Reading every 5 s
    /// while 50,000 tasks were placed cut placement on etcd from 689 to 517 tasks/s.)
    static let busy: Int64 = 2_000

    private enum Prefix: String, CaseIterable {
        case apps = "apps/"
        case tasks = "tasks/"
    }
    private enum Record {
        case app(AppDefinition)
        case task(TaskRecord)
    }
    private typealias Records = [String: (modRevision: Int64, record: Record)]

    init(store: EtcdStore) { self.store = store }

    /// Reads everything once, then what changed every `interval`, while a watch removes deleted
    /// records; until cancelled (the watch goes on until `stop`). After a failure (or a watch etcd
    /// ended) it reads afresh.
    func keepWarm(every interval: Duration) async {
        while !Task.isCancelled {
            do {
                if synced == 0 {
                    try await readAfresh()
                    let (from, generation) = (synced + 1, self.generation)
                    deletionWatch = Task { await self.followDeletions(from: from, generation: generation) }
                } else {
                    // While the leader writes fast (placing thousands of tasks), reading what
                    // changed competes with it for etcd: every such read scans the whole range. So
                    // a busy store is read at most once a minute; the takeover reads the rest.
                    let now = try await store.revision()
                    if now - synced <= Self.busy || ContinuousClock.now - lastSync >= .seconds(60) {
                        try await sync(at: now)
                        lastSync = ContinuousClock.now
                    }
                }
            } catch {
                // Cancelled mid-read: nothing was applied, the copy stands.
                if Task.isCancelled { break }
                synced = 0
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Ends the deletions' watch: the copy is no longer kept.
    func stop() {
        generation += 1
        deletionWatch?.cancel()
    }

    private func readAfresh() async throws {
        stop()
        synced = 0
        deletedAt = [:]
        let (revision, apps) = try await store.changed(prefix: Prefix.apps.rawValue, since: 0, at: nil)
        let (_, tasks) = try await store.changed(prefix: Prefix.tasks.rawValue, since: 0, at: revision)
        lists = [.apps: try await Self.decode(apps, .apps), .tasks: try await Self.decode(tasks, .tasks)]
        synced = revision
    }

    /// What changed since `synced`, as of `revision` (or now).
    private func sync(at revision: Int64?) async throws {
        let since = synced
        let (now, apps) = try await store.changed(prefix: Prefix.apps.rawValue, since: since, at: revision)
        let (_, tasks) = try await store.changed(prefix: Prefix.tasks.rawValue, since: since, at: now)
        let decoded = [Prefix.apps: try await Self.decode(apps, .apps), .tasks: try await Self.decode(tasks, .tasks)]
        guard synced == since else { return }  // read afresh meanwhile
        for (prefix, records) in decoded {
            for (key, entry) in records where (deletedAt[key] ?? 0) < entry.modRevision {
                lists[prefix]![key] = entry
            }
        }
        synced = now
        deletedAt = deletedAt.filter { $0.value > now }
    }

    private nonisolated func followDeletions(from revision: Int64, generation: Int) async {
        do {
            try await store.watchDeletions(from: revision) { deleted in
                guard await self.delete(deleted, generation: generation) else { throw CancellationError() }
            }
        } catch {}
        await watchEnded(generation: generation)
    }

    /// Deletions may have been missed: the next turn reads afresh.
    private func watchEnded(generation: Int) {
        if generation == self.generation { synced = 0 }
    }

    /// False once the watch is stale (a fresh read, or the copy no longer kept).
    private func delete(_ deleted: [WatchedChange], generation: Int) -> Bool {
        guard generation == self.generation else { return false }
        for d in deleted {
            guard let prefix = Prefix.allCases.first(where: { d.key.hasPrefix($0.rawValue) }) else { continue }
            deletedAt[d.key] = d.revision
            // A record written again after this deletion (read since) stays.
            if let entry = lists[prefix]![d.key], entry.modRevision < d.revision { lists[prefix]![d.key] = nil }
        }
        return true
    }

    private static func decode(_ values: [String: (modRevision: Int64, value: Data)], _ prefix: Prefix) async throws
        -> Records
    {
        let entries = Array(values)
        let records: [Record] =
            switch prefix {
            case .apps:
                try await AppsRepository.decodeOnEveryCore(AppDefinition.self, entries.map(\.value.value)).map { .app($0) }
            case .tasks: try await AppsRepository.decodeOnEveryCore(TaskRecord.self, entries.map(\.value.value)).map { .task($0) }
            }
        var out = Records(minimumCapacity: entries.count)
        for (entry, record) in zip(entries, records) { out[entry.key] = (entry.value.modRevision, record) }
        return out
    }

    /// The apps and tasks as the store has them at a revision at or after `revision` (the
    /// election's), or nil: never read, a read failed, or a deletion not delivered within a second.
    func current(atLeast revision: Int64) async -> (apps: [AppDefinition], tasks: [TaskRecord])? {
        guard synced > 0 else { return nil }
        do {
            let now = try await store.revision()
            guard now >= revision else { return nil }
            try await sync(at: now)
            guard synced == now else { return nil }
            let expected = (
                apps: try await store.count(prefix: Prefix.apps.rawValue, at: now),
                tasks: try await store.count(prefix: Prefix.tasks.rawValue, at: now)
            )
            let deadline = ContinuousClock.now + .seconds(1)
            while lists[.apps]!.count != expected.apps || lists[.tasks]!.count != expected.tasks {
                guard ContinuousClock.now < deadline, synced == now else { return nil }
                try await Task.sleep(for: .milliseconds(5))
            }
        } catch {
            return nil
        }
        let apps = lists[.apps]!.values.compactMap { if case .app(let a) = $0.record { a } else { nil } }
        let tasks = lists[.tasks]!.values.compactMap { if case .task(let t) = $0.record { t } else { nil } }
        return (apps, tasks)
    }

    /// What the copy holds (for tests): apps and tasks, and the revision it is synced to.
    var counts: (apps: Int, tasks: Int, revision: Int64) { (lists[.apps]!.count, lists[.tasks]!.count, synced) }
}

/// A new leader's warm copy: the revision the copy must reach (its election's), and the task
/// keeping it, stopped once the copy is taken.
struct WarmTakeover: Sendable {
    let copy: WarmStandby
    let revision: Int64
    let keeper: Task<Void, Never>

    func take() async -> (apps: [AppDefinition], tasks: [TaskRecord])? {
        keeper.cancel()
        await keeper.value  // no periodic read while the last one runs
        let state = await copy.current(atLeast: revision)
        await copy.stop()
        return state
    }
}
