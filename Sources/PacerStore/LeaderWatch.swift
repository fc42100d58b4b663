import AsyncHTTPClient
import Foundation
import NIOCore

/// Follows who leads an election (a `LeaderElection`'s key) without polling: reads the key, then
/// watches it from the next revision through etcd's gateway. Mesos agents learn of a new master
/// from ZooKeeper this way; an agent that only heartbeats notices a dead leader at its next
/// heartbeat, which in a large cluster is 10 s away. The watch only hastens: heartbeats still
/// decide, so a watch that stalls or fails costs time, never correctness.
public struct LeaderWatch: Sendable {
    private let gateway: EtcdGateway
    private let key: String

    /// `key`: the election's key, namespace included (the masters' is `NAMESPACE/master-leader`).
    public init(gateway: EtcdGateway, key: String) {
        self.gateway = gateway
        self.key = key
    }

    /// Calls `changed` with the leader's value (nil: no one leads) once at the start and again on
    /// every change, until cancelled; reconnects a second after any failure.
    public func follow(_ changed: @escaping @Sendable (String?) async -> Void) async {
        var last: String?? = .none
        func tell(_ value: String?) async {
            guard last != .some(value) else { return }
            last = .some(value)
            await changed(value)
        }
        while !Task.isCancelled {
            do {
                let r: RangeResponse = try await gateway.call("/v3/kv/range", json: ["key": b64(key)])
                await tell(try r.kvs?.first.map { String(decoding: try EtcdStore.unb64($0.value ?? ""), as: UTF8.self) })
                let from = (r.header?.revision.flatMap { Int64($0) } ?? 0) + 1
                try await gateway.watch(key: Array(key.utf8), rangeEnd: nil, from: from) { changes in
                    for change in changes { await tell(change.value.map { String(decoding: $0, as: UTF8.self) }) }
                }
            } catch {}
            try? await Task.sleep(for: .seconds(1))
        }
    }

    private func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }
}
