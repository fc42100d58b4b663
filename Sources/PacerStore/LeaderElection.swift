import Foundation
import NIOCore
import Synchronization

/// Lease-based leader election on etcd, for replicas of one service. The leader's key lives on a
/// lease of `ttl` seconds, renewed every sixth of it; its create revision is the leader's fence
/// (see `EtcdStore.Fence`). The leader counts its own deadline from when it *sent* the last
/// successful renewal, on the monotonic clock, so it stops before etcd can let anyone else start.
public actor LeaderElection {
    public struct Leadership: Sendable, Equatable {
        public var fence: EtcdStore.Fence
        public var lease: String
    }

    let gateway: EtcdGateway
    public let key: String
    public let ttl: Int
    var lease: String?
    /// Monotonic instant after which this replica must consider itself deposed.
    public private(set) var deadline: ContinuousClock.Instant?
    /// Renewing the lease while this replica leads.
    var keeper: LeaseKeeper?
    /// Ends `keepLeading` (resigning does not wait for the keeper's thread to notice).
    var stopKeeping: AsyncStream<Bool>.Continuation?

    public init(gateway: EtcdGateway, key: String, ttl: Int = 2) {
        self.gateway = gateway
        self.key = key
        self.ttl = ttl
    }

    struct LeaseGrant: Decodable, Sendable {
        var ID: String?
        var TTL: String?
    }
    struct KeepAlive: Decodable, Sendable {
        struct R: Decodable, Sendable { var TTL: String? }
        var result: R?
    }

    /// One attempt: leader (with its fence) if the key was free, else nil.
    public func campaign(value: String) async throws -> Leadership? {
        let sent = ContinuousClock.now
        let grant: LeaseGrant = try await gateway.call("/v3/lease/grant", json: ["TTL": "\(ttl)"])
        guard let id = grant.ID else { throw StoreError("etcd granted no lease") }
        let k = Data(key.utf8).base64EncodedString()
        let txn: TxnResponse = try await gateway.call(
            "/v3/kv/txn",
            json: [
                "compare": [["key": k, "target": "CREATE", "result": "EQUAL", "create_revision": "0"]],
                "success": [["request_put": ["key": k, "value": Data(value.utf8).base64EncodedString(), "lease": id]]]
            ])
        guard txn.succeeded == true, let rev = txn.header?.revision.flatMap({ Int64($0) }) else {
            _ = try? await revoke(id)
            return nil
        }
        lease = id
        deadline = sent + .seconds(ttl)
        return Leadership(fence: EtcdStore.Fence(key: key, createRevision: rev), lease: id)
    }

    /// Renews the lease; false when it is gone (expired, revoked) or the deadline already passed.
    /// A renewal that gets no answer before the deadline gives up then (a partition that drops
    /// packets would otherwise hold it for the gateway's whole timeout, past the lease).
    public func renew() async -> Bool {
        guard let lease, let deadline, ContinuousClock.now < deadline else { return false }
        let sent = ContinuousClock.now
        let left = deadline - sent
        let within = TimeAmount.nanoseconds(left.components.seconds * 1_000_000_000 + left.components.attoseconds / 1_000_000_000)
        guard let r: KeepAlive = try? await gateway.call("/v3/lease/keepalive", json: ["ID": lease], within: within),
            let left = r.result?.TTL.flatMap({ Int($0) }), left > 0
        else { return ContinuousClock.now < deadline }
        self.deadline = sent + .seconds(ttl)
        return true
    }

    /// Campaigns whenever no one leads, until elected; `following` learns who leads meanwhile
    /// (nil: no one). The key is watched (`LeaderWatch`), so a leader's end is acted on within
    /// milliseconds rather than at the next poll; it is read again every second all the same, in
    /// case the watch stalls.
    public func campaignUntilElected(
        as value: String,
        following: @Sendable (String?) async -> Void = { _ in }
    ) async throws -> Leadership {
        let changed = Changed()
        let watch = Task { [gateway, key] in await LeaderWatch(gateway: gateway, key: key).follow { _ in changed.set() } }
        defer { watch.cancel() }
        while true {
            try Task.checkCancellation()
            changed.clear()
            let current = try? await leader()
            await following(current)
            if current == nil, let won = try? await campaign(value: value) { return won }
            let until = ContinuousClock.now + .seconds(1)
            while !changed.isSet, ContinuousClock.now < until { try await Task.sleep(for: .milliseconds(20)) }
        }
    }

    /// Renews the lease every sixth of its TTL (on a thread of its own: `LeaseKeeper`) for as long
    /// as it holds; throws `LeadershipLost` once a renewal misses the deadline, or at once after
    /// `resign`. Cancellation ends it too.
    public func keepLeading() async throws {
        guard let lease, let deadline else { throw LeadershipLost() }
        let keeper = LeaseKeeper(endpoints: gateway.endpoints, client: gateway.client, lease: lease, ttl: ttl, deadline: deadline)
        self.keeper = keeper
        let (ended, signal) = AsyncStream.makeStream(of: Bool.self)
        stopKeeping = signal
        keeper.start { lost in
            signal.yield(lost)
            signal.finish()
        }
        // A backstop, should the keeper's thread ever hang inside a renewal: the deadline alone
        // still ends the leadership (seen once: an abdicated leader went on subscribing for 5 s).
        let watchdog = Task {
            while !Task.isCancelled {
                let due = keeper.deadline
                if ContinuousClock.now >= due {
                    signal.yield(true)
                    signal.finish()
                    return
                }
                try? await Task.sleep(until: due, clock: .continuous)
            }
        }
        defer { watchdog.cancel() }
        let lost = await withTaskCancellationHandler {
            var lost = false
            for await l in ended { lost = l }
            return lost
        } onCancel: {
            keeper.stop()
            signal.finish()
        }
        _ = lost  // lost or given up: either way this replica no longer leads
        self.deadline = keeper.deadline
        try Task.checkCancellation()
        throw LeadershipLost()
    }

    /// Who leads now: the key's value, or nil.
    public func leader() async throws -> String? { try await current()?.leader }

    /// Who leads, and the epoch of that leadership (its election key's create revision: it grows
    /// with every new term, and fences the leader's writes).
    public func current() async throws -> (leader: String, epoch: Int64)? {
        let r: RangeResponse = try await gateway.call("/v3/kv/range", json: ["key": Data(key.utf8).base64EncodedString()])
        guard let kv = r.kvs?.first else { return nil }
        return (String(decoding: try EtcdStore.unb64(kv.value ?? ""), as: UTF8.self), Int64(kv.create_revision ?? "") ?? 0)
    }

    /// Gives leadership up: the key goes with its lease, and `keepLeading` ends with
    /// `LeadershipLost` — always, whether the revoke answered or not (under load a revoke slower
    /// than the keeper's wake-up once let `keepLeading` return as if still leading, and an
    /// abdicated framework went on acting beside its successor).
    public func resign() async {
        keeper?.stop()
        let id = lease
        lease = nil
        deadline = nil
        if let id { _ = try? await revoke(id) }
        stopKeeping?.finish()
    }

    func revoke(_ id: String) async throws {
        struct Empty: Decodable, Sendable {}
        let _: Empty = try await gateway.call("/v3/lease/revoke", json: ["ID": id])
    }
}

/// This replica no longer leads (lease lost or given up). Crash-only: the process ends, and its
/// supervisor starts it again as a follower.
public struct LeadershipLost: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "leadership lost: this replica stops; start it again to rejoin as a follower" }
}

/// Set by a watch when the election's key changes; the campaign reads the key again then.
private final class Changed: Sendable {
    private let flag = Mutex(false)
    func set() { flag.withLock { $0 = true } }
    func clear() { flag.withLock { $0 = false } }
    var isSet: Bool { flag.withLock { $0 } }
}
