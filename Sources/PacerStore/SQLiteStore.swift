import Foundation
import GRDB

/// The embedded default: one SQLite file in WAL mode with `synchronous = FULL`, so a committed
/// batch has been fsynced before `apply` returns. SQLite's journal also truncates a torn tail.
public final class SQLiteStore: StateStore {
    let pool: DatabasePool

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

    public func apply(_ ops: [StoreOp]) async throws {
        guard !ops.isEmpty else { return }
        try await pool.write { db in
            for op in ops {
                switch op {
                case .put(let k, let v):
                    try db.execute(
                        sql: "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        arguments: [k, v])
                case .delete(let k):
                    try db.execute(sql: "DELETE FROM kv WHERE key = ?", arguments: [k])
                }
            }
        }
    }
}
