import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The store on etcd v3, through its JSON gateway (`/v3/kv/range`, `/v3/kv/txn`), so any etcd
/// since 3.4 works without gRPC code. Keys live under `namespace`; keys and values travel base64.
/// Reads are linearizable (etcd's default). A batch is one transaction: atomic, and durable
/// (replicated to a quorum and fsynced) when it returns. With a `fence`, every write succeeds only
/// while the fence key still has the given create revision — the leader's election key — so a
/// deposed leader cannot write, however late its request arrives.
public actor EtcdStore: StateStore {
    public struct Fence: Sendable, Equatable {
        public var key: String
        public var createRevision: Int64
        public init(key: String, createRevision: Int64) {
            self.key = key
            self.createRevision = createRevision
        }
    }

    public nonisolated let gateway: EtcdGateway
    public nonisolated let namespace: String
    /// Keys per range request when listing.
    let listPage: Int
    public private(set) var fence: Fence?

    /// `endpoints`: `http://host:port` of each member; the store follows whichever answers.
    public init(
        endpoints: [String], namespace: String = "/pacer/", client: HTTPClient = EtcdGateway.client,
        timeout: TimeAmount = .seconds(5), listPage: Int = 5_000
    ) {
        precondition(listPage > 0, "a page of keys holds at least one")
        self.listPage = listPage
        gateway = EtcdGateway(endpoints: endpoints, client: client, timeout: timeout)
        self.namespace = namespace
    }

    func call<T: Decodable & Sendable>(_ path: String, _ body: [String: Any]) async throws -> T {
        try await gateway.call(path, JSONSerialization.data(withJSONObject: body))
    }

    /// Parses `etcd://h1:p1,h2:p2[/namespace]` (`etcds://`: the members speak TLS).
    public static func endpoints(fromURL url: String) throws -> (endpoints: [String], namespace: String) {
        guard url.hasPrefix("etcd://") || url.hasPrefix("etcds://") else {
            throw StoreError("an etcd store is etcd[s]://host:port[,host:port…][/namespace], got '\(url)'")
        }
        let scheme = url.hasPrefix("etcds://") ? "https://" : "http://"
        var rest = String(url.drop { $0 != "/" }.dropFirst(2))
        var namespace = "/pacer/"
        if let slash = rest.firstIndex(of: "/") {
            namespace = String(rest[slash...]) + (rest.hasSuffix("/") ? "" : "/")
            rest = String(rest[..<slash])
        }
        let hosts = rest.split(separator: ",").map(String.init)
        guard !hosts.isEmpty, hosts.allSatisfy({ $0.contains(":") }) else {
            throw StoreError("etcd endpoints need host:port, got '\(rest)'")
        }
        return (hosts.map { scheme + $0 }, namespace)
    }

    public func setFence(_ fence: Fence?) { self.fence = fence }

    public func get(_ key: String) async throws -> Data? {
        let r: RangeResponse = try await call("/v3/kv/range", ["key": b64(namespace + key)])
        return try r.kvs?.first.map { try Self.unb64($0.value ?? "") }
    }

    /// In pages of `listPage` keys, all read at the first page's revision (one consistent view):
    /// 50,000 task records in one answer come near the gateway's message limits, and one huge
    /// answer holds that much JSON at once.
    public func list(prefix: String) async throws -> [String: Data] {
        var out: [String: Data] = [:]
        _ = try await pages(prefix: prefix, at: nil) { key, kv in out[key] = try Self.unb64(kv.value ?? "") }
        return out
    }

    /// The keys under `prefix` changed after revision `since` (new ones included), with the
    /// revision each was last changed at and its value, as of `revision` (or the current one, which
    /// is returned). A key changed many times comes once: what a follower's warm copy reads.
    public func changed(prefix: String, since: Int64, at revision: Int64?) async throws -> (
        revision: Int64, changes: [String: (modRevision: Int64, value: Data)]
    ) {
        var out: [String: (modRevision: Int64, value: Data)] = [:]
        // (A filter makes etcd scan the whole range for every page: none when everything is wanted.)
        let filter = since > 0 ? ["min_mod_revision": "\(since + 1)"] : [:]
        let read = try await pages(prefix: prefix, at: revision, filter: filter) { key, kv in
            out[key] = (kv.mod_revision.flatMap { Int64($0) } ?? 0, try Self.unb64(kv.value ?? ""))
        }
        return (read, out)
    }

    /// The store's current revision.
    public func revision() async throws -> Int64 {
        let r: RangeResponse = try await call("/v3/kv/range", ["key": b64(namespace), "count_only": true])
        guard let revision = r.header?.revision.flatMap({ Int64($0) }) else { throw StoreError("etcd sent no revision") }
        return revision
    }

    /// How many keys are under `prefix` at `revision`.
    public func count(prefix: String, at revision: Int64) async throws -> Int {
        let start = namespace + prefix
        let r: RangeResponse = try await call(
            "/v3/kv/range",
            [
                "key": Data(start.utf8).base64EncodedString(), "range_end": Data(Self.rangeEnd(start)).base64EncodedString(),
                "count_only": true, "revision": "\(revision)"
            ])
        return r.count.flatMap { Int($0) } ?? 0
    }

    /// Every deletion under the namespace from `revision` on (etcd sends no puts), keys without
    /// the namespace, until the watch ends (`EtcdGateway.watch`).
    public nonisolated func watchDeletions(from revision: Int64, _ deleted: ([WatchedChange]) async throws -> Void)
        async throws
    {
        try await gateway.watch(
            key: Array(namespace.utf8), rangeEnd: Self.rangeEnd(namespace), from: revision, deletionsOnly: true
        ) { changes in
            try await deleted(
                changes.map {
                    var c = $0
                    c.key = String(decoding: c.key.utf8.dropFirst(namespace.utf8.count), as: UTF8.self)
                    return c
                })
        }
    }

    /// Reads a prefix's range page by page, all pages at one revision (`revision`, or the first
    /// page's); `each` gets every key (namespace removed). Returns the revision read at.
    /// `filter`: more of the range request's fields (`min_mod_revision`).
    private func pages(
        prefix: String, at revision: Int64?, filter: [String: String] = [:], _ each: (String, KeyValue) throws -> Void
    ) async throws -> Int64 {
        let start = namespace + prefix
        let end = Data(Self.rangeEnd(start)).base64EncodedString()
        var from = Data(start.utf8)
        var revision = revision.map { "\($0)" }
        while true {
            var query: [String: Any] = ["key": from.base64EncodedString(), "range_end": end, "limit": "\(listPage)"]
            for (k, v) in filter { query[k] = v }
            if let revision { query["revision"] = revision }
            let r: RangeResponse = try await call("/v3/kv/range", query)
            revision = revision ?? r.header?.revision
            var last: Data?
            for kv in r.kvs ?? [] {
                let raw = try Self.unb64(kv.key)
                try each(String(decoding: raw.dropFirst(namespace.utf8.count), as: UTF8.self), kv)
                last = raw
            }
            guard r.more == true, let last else { return revision.flatMap { Int64($0) } ?? 0 }
            from = last + [0]  // the next key after the last one read
        }
    }

    public func apply(_ ops: [StoreOp]) async throws {
        // etcd refuses a transaction that names a key twice: the last operation on a key wins,
        // which is what applying the batch in order means.
        var last: [String: StoreOp] = [:]
        var order: [String] = []
        for op in ops {
            let key: String
            switch op {
            case .put(let k, _), .delete(let k): key = k
            }
            if last[key] == nil { order.append(key) }
            last[key] = op
        }
        let requests: [[String: Any]] = order.map { key in
            switch last[key]! {
            case .put(_, let value): return ["request_put": ["key": b64(namespace + key), "value": value.base64EncodedString()]]
            case .delete: return ["request_delete_range": ["key": b64(namespace + key)]]
            }
        }
        var body: [String: Any] = ["success": requests]
        if let fence {
            body["compare"] = [
                ["key": b64(fence.key), "target": "CREATE", "result": "EQUAL", "create_revision": "\(fence.createRevision)"]
            ]
        }
        let r: TxnResponse = try await call("/v3/kv/txn", body)
        guard r.succeeded == true || fence == nil else {
            throw StoreError("write refused: this process no longer holds leadership (fence \(fence!.key) changed)")
        }
    }

    private nonisolated func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

    static func unb64(_ s: String) throws -> Data {
        guard let d = Data(base64Encoded: s) else { throw StoreError("etcd sent invalid base64") }
        return d
    }

    /// The key just past every key starting with `prefix` (etcd's range_end for a prefix).
    private static func rangeEnd(_ prefix: String) -> [UInt8] {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return bytes
            }
            bytes.removeLast()
        }
        return [0]
    }
}
