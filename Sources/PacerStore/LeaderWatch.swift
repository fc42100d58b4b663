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
                try await watch(from: from) { await tell($0) }
            } catch {}
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// One watch stream (newline-separated JSON messages), until it ends, fails or is cancelled
    /// by etcd (a compacted revision): the caller then reads the key afresh.
    private func watch(from revision: Int64, _ changed: (String?) async -> Void) async throws {
        let body = try JSONSerialization.data(withJSONObject: [
            "create_request": ["key": b64(key), "start_revision": "\(revision)"]
        ])
        var request = HTTPClientRequest(url: await gateway.endpoint + "/v3/watch")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        // A watch is long: ended now and then and opened again, so a member that went quiet
        // without closing the connection is left within minutes.
        let response = try await gateway.client.execute(request, deadline: .now() + .minutes(5))
        guard response.status == .ok else { throw StoreError("etcd watch answered \(response.status.code)") }
        var pending = ByteBuffer()
        for try await var chunk in response.body {
            pending.writeBuffer(&chunk)
            while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending.readSlice(length: newline - pending.readerIndex + 1)!
                let message = try JSONDecoder().decode(WatchMessage.self, from: Data(line.readableBytesView))
                guard let result = message.result, result.canceled != true else { return }
                for event in result.events ?? [] {
                    if event.type == "DELETE" {
                        await changed(nil)
                    } else {
                        await changed(String(decoding: try EtcdStore.unb64(event.kv?.value ?? ""), as: UTF8.self))
                    }
                }
            }
            pending.discardReadBytes()
        }
    }

    private func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }
}

/// etcd's watch stream, as its gateway writes it: PUT is the default type and so left out.
private struct WatchMessage: Decodable {
    struct Event: Decodable {
        var type: String?
        var kv: KeyValue?
    }
    struct Result: Decodable {
        var events: [Event]?
        var canceled: Bool?
    }
    var result: Result?
}
