import Foundation

/// A consistent copy of a state store, for `pacer framework backup` / `restore`. Consistent because
/// it is one read: one SQLite query, one etcd range (served at one revision).
public struct StoreSnapshot: Codable, Sendable, Equatable {
    public static let currentFormat = "pacer-store-snapshot/1"
    /// Keys that are not state: an election key lives on its leader's lease, and restoring it
    /// would name a leader that never renews it.
    public static let notState: Set<String> = ["leader", "master-leader"]

    public var format: String
    public var takenAt: String
    /// Every key with its value (base64 in the file).
    public var entries: [String: Data]

    public static func take(_ store: any StateStore, now: Date = Date()) async throws -> StoreSnapshot {
        let all = try await store.list(prefix: "")
        return StoreSnapshot(
            format: currentFormat, takenAt: ISO8601DateFormatter().string(from: now),
            entries: all.filter { !notState.contains($0.key) })
    }

    /// Writes every entry into `store`, which must hold no state: a restore replaces nothing, so a
    /// mistyped store address cannot overwrite a live cluster. Large snapshots go in batches
    /// (etcd takes at most 128 operations and about 1.5 MiB per transaction).
    public func restore(into store: any StateStore) async throws {
        guard format == Self.currentFormat else {
            throw StoreError("not a snapshot this version can restore: format '\(format)', expected '\(Self.currentFormat)'")
        }
        let present = try await store.list(prefix: "").keys.filter { !Self.notState.contains($0) }
        guard present.isEmpty else {
            throw StoreError(
                "the store already holds \(present.count) keys (e.g. \(present.sorted().prefix(3).joined(separator: ", "))); restore only into an empty store"
            )
        }
        var batch: [StoreOp] = []
        var bytes = 0
        for (key, value) in entries.sorted(by: { $0.key < $1.key }) {
            if batch.count == 100 || bytes + value.count > 1 << 20 {
                try await store.apply(batch)
                batch = []
                bytes = 0
            }
            batch.append(.put(key, value))
            bytes += value.count + key.utf8.count
        }
        if !batch.isEmpty { try await store.apply(batch) }
    }
}
