import AsyncHTTPClient
import Foundation
import NIOCore

/// One change etcd's watch reported: a key (namespace included) put or deleted at `revision`.
public struct WatchedChange: Sendable {
    public var key: String
    /// nil: deleted.
    public var value: Data?
    public var revision: Int64
}

extension EtcdGateway {
    /// Watches the keys in [`key`, `rangeEnd`) (`rangeEnd` nil: `key` alone) from `revision` through
    /// the gateway's streaming `/v3/watch` (newline-separated JSON messages), handing each message's
    /// changes to `changed` in order, until the stream ends, fails, or etcd cancels the watch (a
    /// compacted revision): the caller then reads afresh. Returns normally only on cancellation by
    /// etcd or the stream's end.
    /// `deletionsOnly`: etcd leaves puts out of the stream (its `NOPUT` filter).
    public nonisolated func watch(
        key: [UInt8], rangeEnd: [UInt8]?, from revision: Int64, deletionsOnly: Bool = false,
        _ changed: ([WatchedChange]) async throws -> Void
    ) async throws {
        var create: [String: Any] = ["key": Data(key).base64EncodedString(), "start_revision": "\(revision)"]
        if let rangeEnd { create["range_end"] = Data(rangeEnd).base64EncodedString() }
        if deletionsOnly { create["filters"] = ["NOPUT"] }
        let body = try JSONSerialization.data(withJSONObject: ["create_request": create])
        var request = HTTPClientRequest(url: await endpoint + "/v3/watch")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        // A watch is long: ended now and then and opened again, so a member that went quiet
        // without closing the connection is left within minutes.
        let response = try await client.execute(request, deadline: .now() + .minutes(5))
        guard response.status == .ok else { throw StoreError("etcd watch answered \(response.status.code)") }
        var pending = ByteBuffer()
        let decoder = JSONDecoder()
        for try await var chunk in response.body {
            pending.writeBuffer(&chunk)
            while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending.readSlice(length: newline - pending.readerIndex + 1)!
                let message = try decoder.decode(WatchMessage.self, from: Data(line.readableBytesView))
                guard let result = message.result, result.canceled != true else { return }
                let changes = try (result.events ?? []).map { event in
                    let kv = event.kv
                    return WatchedChange(
                        key: String(decoding: try EtcdStore.unb64(kv?.key ?? ""), as: UTF8.self),
                        value: event.type == "DELETE" ? nil : try EtcdStore.unb64(kv?.value ?? ""),
                        revision: kv?.mod_revision.flatMap { Int64($0) } ?? 0)
                }
                if !changes.isEmpty { try await changed(changes) }
            }
            pending.discardReadBytes()
        }
    }
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
