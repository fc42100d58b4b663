import PacerAppsCore
import PacerModel
import Synchronization

/// Tasks as the API writes them, kept by task id between reads: most of 50,000 tasks are the same
/// from one `/v2/tasks` or `embed=apps.tasks` to the next, and writing each again (its timestamps
/// formatted, its strings escaped) was most of what those reads cost — 30–40 % of the framework's
/// CPU while tasks were placed and the API was polled (issue 12, perf). An entry is used only for an
/// equal record (placement, state, health, readiness, draining) of the same role, in the same shape.
final class TaskJSONCache: Sendable {
    static let shared = TaskJSONCache()

    struct Entry: Sendable {
        let record: TaskRecord
        let role: String?
        let json: [UInt8]
    }

    /// By shape (`marathonOnly`), by task id.
    private let shapes = Mutex<[Bool: [String: Entry]]>([:])

    /// One answer's use of the cache: what it found (a snapshot, read without the lock) and what
    /// it wrote or used.
    struct Session {
        let marathonOnly: Bool
        fileprivate var found: [String: Entry]
        fileprivate var used: [String: Entry] = [:]

        /// Room for this many tasks in all (growing as tasks are written was 6 % of a read).
        mutating func reserve(_ tasks: Int) { used.reserveCapacity(tasks) }

        /// Writes `records` (of an app of this role) as `,`-separated task objects.
        mutating func write(_ records: [TaskRecord], role: String?, into j: inout JSONBytes, first: inout Bool) {
            for r in records {
                if !first { j.raw(",") }
                first = false
                if let hit = found[r.id], hit.role == role, hit.record == r {
                    j.raw(hit.json)
                    used[r.id] = hit
                    continue
                }
                var one = JSONBytes(capacity: 640)
                MarathonTask(r, role: role).write(to: &one, marathonOnly: marathonOnly)
                j.raw(one.bytes)
                used[r.id] = Entry(record: r, role: role, json: one.bytes)
            }
        }
    }

    /// Entries kept for one shape.
    func count(marathonOnly: Bool) -> Int { shapes.withLock { $0[marathonOnly]?.count ?? 0 } }

    func session(marathonOnly: Bool) -> Session {
        Session(marathonOnly: marathonOnly, found: shapes.withLock { $0[marathonOnly] ?? [:] })
    }

    /// What a read wrote: every task there is, or some of them (one app's, a filtered list) out of
    /// these live ones.
    enum Scope {
        case whole
        case part(of: TaskTable)
    }

    /// Keeps what the session wrote. A whole read replaces the cache (tasks that ended leave it);
    /// a partial one adds its entries, and once the cache holds half as many again as there are
    /// live tasks, the ended ones are dropped: with only per-app reads (as during churn, where
    /// 120,000 tasks are replaced in ten minutes) nothing else would ever remove them.
    func finish(_ session: inout Session, _ scope: Scope) {
        // The session's snapshot let go first: merged into while it is still held, the whole
        // dictionary would be copied for a read of one app's tasks.
        let used = session.used
        session = Session(marathonOnly: session.marathonOnly, found: [:])
        shapes.withLock { shapes in
            switch scope {
            case .whole:
                shapes[session.marathonOnly] = used
            case .part(let live):
                var kept = shapes.removeValue(forKey: session.marathonOnly) ?? [:]
                kept.merge(used) { _, new in new }
                if kept.count > Self.bound(live: live.count) { kept = kept.filter { live[$0.key] != nil } }
                shapes[session.marathonOnly] = kept
            }
        }
    }

    /// Entries a shape may hold before ended tasks are dropped.
    static func bound(live: Int) -> Int { 1_000 + live + live / 2 }
}
