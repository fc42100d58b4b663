import Foundation
import PacerAppsCore
import PacerModel
import PacerStore

/// A follower's copy of the leader's apps and task records, decoded, kept current by reading now
/// and then only what changed. Once elected, the follower brings it to the store's revision (the
/// keys with their modification revisions, then the few values that changed) instead of reading
/// and decoding every record: at 50,000 tasks that read was most of the ~1 s between winning the
/// election and answering (framework failover 3.1–3.4 s, target ≤ 3 s; issue 12).
///
/// Only a cache: a failed or partial refresh is dropped and the leader reads the store in full.
actor WarmStandby {
    private let store: EtcdStore
    private var apps = WarmList<AppDefinition>(prefix: "apps/")
    private var tasks = WarmList<TaskRecord>(prefix: "tasks/")

    init(store: EtcdStore) { self.store = store }

    /// Refreshes both lists every `interval` until cancelled; a failure waits for the next turn.
    func keepWarm(every interval: Duration) async {
        while !Task.isCancelled {
            do {
                apps = try await apps.refreshed(from: store)
                tasks = try await tasks.refreshed(from: store)
            } catch {}
            try? await Task.sleep(for: interval)
        }
    }

    /// Every app as the store has it now (call once elected: reads after the election's revision).
    func currentApps() async throws -> [AppDefinition] {
        apps = try await apps.refreshed(from: store)
        return apps.values
    }

    func currentTasks() async throws -> [TaskRecord] {
        tasks = try await tasks.refreshed(from: store)
        return tasks.values
    }

    /// What the copy holds (for tests): records, and the revision it shows.
    var counts: (apps: Int, tasks: Int, revision: Int64) { (apps.entries.count, tasks.entries.count, tasks.revision) }
}

/// One prefix's records as of `revision`, each with the revision it was last changed at.
struct WarmList<Record: Decodable & Sendable>: Sendable {
    let prefix: String
    private(set) var revision: Int64 = 0
    private(set) var entries: [String: (modRevision: Int64, record: Record)] = [:]

    init(prefix: String) { self.prefix = prefix }

    var values: [Record] { entries.values.map(\.record) }

    /// The list at the store's current revision: keys gone are dropped, keys changed since
    /// `revision` (or new) are read — all at one revision — and decoded on every core.
    func refreshed(from store: EtcdStore) async throws -> WarmList {
        let (now, keys) = try await store.revisions(prefix: prefix)
        var next = self
        next.revision = now
        next.entries = entries.filter { keys[$0.key] == $0.value.modRevision }
        guard next.entries.count < keys.count else { return next }
        let changed = try await store.changed(prefix: prefix, since: revision, at: now)
        let missing = keys.filter { next.entries[$0.key] == nil }
        guard missing.allSatisfy({ changed[$0.key]?.modRevision == $0.value }) else {
            throw StoreError("the store changed between two reads at one revision; read it in full")
        }
        let fresh = Array(changed.filter { keys[$0.key] != nil })
        let records = try await AppsRepository.decodeOnEveryCore(Record.self, fresh.map(\.value.value))
        for (entry, record) in zip(fresh, records) { next.entries[entry.key] = (entry.value.modRevision, record) }
        return next
    }
}
