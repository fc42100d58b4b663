import Foundation
import Logging
import PacerStore

/// The layout version of the framework's store, kept in the store itself. A leader checks it
/// before it reads anything: a store from an older Pacer is migrated forward (each step in
/// `migrations`, then the new version written), one from a newer Pacer is refused — an old
/// replica must never lead over state it does not understand, as can happen midway through a
/// rolling upgrade.
public enum StoreSchema {
    /// 1: apps/, versions/, tasks/, deployments/, canaries/, groups/, groupversions/, events/, framework/id.
    /// Only these are the framework's data: the namespace also holds the election keys of the
    /// framework and the masters, which live on their leaders' leases — a migration that rewrote
    /// them would detach them from the lease and name a leader forever (the rehearsal found it).
    static let dataPrefixes = [
        "apps/", "versions/", "tasks/", "deployments/", "canaries/", "groups/", "groupversions/", "events/", "framework/"
    ]
    #if PACER_SCHEMA_REHEARSAL
    public static let current = 2
    /// The steps from each version to the next. The rehearsal build (see Package.swift) plays
    /// the next release: its step reads and rewrites every record — the shape of a real layout
    /// change — so a rolling upgrade is tested before one is needed. Batches stay under etcd's
    /// transaction limit (128 operations); a step must be safe to run again, since a leader
    /// that dies before the version is written runs it again.
    static let migrations: [Int: @Sendable (any StateStore) async throws -> Void] = [
        1: { store in
            var records: [(key: String, value: Data)] = []
            for prefix in dataPrefixes { records += try await store.list(prefix: prefix).sorted { $0.key < $1.key } }
            for start in stride(from: 0, to: records.count, by: 100) {
                try await store.apply(records[start..<min(start + 100, records.count)].map { .put($0.key, $0.value) })
            }
        }
    ]
    #else
    public static let current = 1
    /// The steps from each version to the next; none yet (version 1 is the first).
    static let migrations: [Int: @Sendable (any StateStore) async throws -> Void] = [:]
    #endif
    public static let key = "schema/version"

    public struct NewerStore: Error, CustomStringConvertible {
        public var found: Int
        public var description: String {
            "the state store was written by a newer Pacer (store schema \(found); this Pacer reads up to \(StoreSchema.current)): "
                + "run the newer version, or restore a backup taken with this one"
        }
    }

    /// Brings the store to `current`, or refuses it. Returns the version it found (nil: none yet).
    @discardableResult
    public static func prepare(_ store: any StateStore, logger: Logger) async throws -> Int? {
        let found = try await store.get(key).flatMap { Int(String(decoding: $0, as: UTF8.self)) }
        if let found, found > current { throw NewerStore(found: found) }
        var version = found ?? current
        while version < current {
            guard let step = migrations[version] else {
                throw StoreError("no migration from store schema \(version): restore a backup or use the release that wrote it")
            }
            logger.notice("migrating the state store", metadata: ["from": "\(version)", "to": "\(version + 1)"])
            try await step(store)
            version += 1
            try await store.put(key, Data("\(version)".utf8))
        }
        if found == nil { try await store.put(key, Data("\(current)".utf8)) }
        return found
    }
}
