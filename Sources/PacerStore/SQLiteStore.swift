import Foundation
import GRDB
import Synchronization

/// The embedded default: one SQLite file in WAL mode with `synchronous = FULL`, so a committed
/// batch has been fsynced before `apply` returns. SQLite's journal also truncates a torn tail.
public final class SQLiteStore: StateStore {
    let pool: DatabasePool
    /// Batches waiting for the writer: whatever queues while one transaction commits goes into the
    /// next one together (group commit), so concurrent writers share one fsync instead of queueing
    /// for one each — an API change waited behind twenty of them (0.25 s) while tasks were placed.
    private let queue = CommitQueue()

    /// Opens (creating if needed) the store at `path`. Fails with a clear error on a corrupt file.
    public init(path: String) throws(StoreError) {
        var config = Configuration()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true)
            pool = try DatabasePool(path: path, configuration: config)
            try pool.write { db in
                try db.execute(sql: "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL)")
                let check = try String.fetchOne(db, sql: "PRAGMA quick_check") ?? "?"
                if check != "ok" { throw StoreError("integrity check of \(path) failed: \(check)") }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(
                "cannot open the store at \(path): \(error). Move the file away to start empty, "
                    + "or restore it from a backup.")
        }
    }

    public func get(_ key: String) async throws -> Data? {
        try await pool.read { db in try Data.fetchOne(db, sql: "SELECT value FROM kv WHERE key = ?", arguments: [key]) }
    }

    public func list(prefix: String) async throws -> [String: Data] {
        try await pool.read { db in
            var out: [String: Data] = [:]
            // Range scan instead of LIKE, so '%' and '_' in keys mean themselves.
            let rows = try Row.fetchAll(
                db, sql: "SELECT key, value FROM kv WHERE key >= ? AND key < ?",
                arguments: [prefix, prefix + "\u{10FFFF}"])
            for row in rows { out[row["key"]] = row["value"] }
            return out
        }
    }

    /// Returns once the batch is committed (fsynced), in one transaction with the batches queued
    /// beside it, in the order they were applied; a failed commit fails every batch in it.
    public func apply(_ ops: [StoreOp]) async throws {
        guard !ops.isEmpty else { return }
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            if queue.add(ops, done) { Task { await self.commitQueued() } }
        }
    }

    /// Commits what is queued, one transaction at a time, until nothing is.
    private func commitQueued() async {
        while let group = queue.takeAll() {
            do {
                try await write(group.flatMap(\.ops))
                for batch in group { batch.done.resume() }
            } catch {
                for batch in group { batch.done.resume(throwing: error) }
            }
        }
    }

    private func write(_ ops: [StoreOp]) async throws {
        try await pool.write { db in
            // Statements compiled once per connection, not once per row: a launch batch writes
            // thousands of task records, and every other write (an API change) waits for it.
            let put = try db.cachedStatement(
                sql: "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            let delete = try db.cachedStatement(sql: "DELETE FROM kv WHERE key = ?")
            for op in ops {
                switch op {
                case .put(let k, let v): try put.execute(arguments: [k, v])
                case .delete(let k): try delete.execute(arguments: [k])
                }
            }
        }
    }
}

/// The batches waiting for `SQLiteStore`'s writer, and whether it runs.
private final class CommitQueue: Sendable {
    typealias Batch = (ops: [StoreOp], done: CheckedContinuation<Void, any Error>)
    private let state = Mutex<(waiting: [Batch], writing: Bool)>(([], false))

    /// Queues a batch; true when the caller must start the writer (none runs).
    func add(_ ops: [StoreOp], _ done: CheckedContinuation<Void, any Error>) -> Bool {
        state.withLock { s in
            s.waiting.append((ops, done))
            guard !s.writing else { return false }
            s.writing = true
            return true
        }
    }

    /// Everything queued, or nil: nothing is, and the writer stops.
    func takeAll() -> [Batch]? {
        state.withLock { s in
            guard !s.waiting.isEmpty else {
                s.writing = false
                return nil
            }
            defer { s.waiting = [] }
            return s.waiting
        }
    }
}
