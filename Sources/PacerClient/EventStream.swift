import AsyncHTTPClient
import Foundation
import NIOCore
import PacerModel

/// One server-sent event.
public struct ServerSentEvent: Sendable, Equatable {
    public var id: String?
    public var event: String
    public var data: String
    public init(id: String?, event: String, data: String) {
        self.id = id
        self.event = event
        self.data = data
    }
}

/// Parses the `text/event-stream` format: `field: value` lines, a blank line ends an event,
/// lines starting with `:` are comments (keep-alives).
public struct SSEParser: Sendable {
    var lines = LineSplitter()
    var id: String?, event: String?, data: [String] = []
    /// Comments seen, so a reader can tell a live idle stream from a dead one.
    public private(set) var comments = 0
    /// Report comment lines as events with an empty type, so a reader can watch for silence.
    var keepAlives = false
    public init(keepAlives: Bool = false) { self.keepAlives = keepAlives }

    public mutating func feed(_ chunk: ByteBuffer) throws -> [ServerSentEvent] {
        var out: [ServerSentEvent] = []
        var buffer = chunk
        // Keep blank lines: they end events. LineSplitter drops empty records, so split here.
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        for line in try lines.feedKeepingEmpty(bytes) {
            var text = String(decoding: line, as: UTF8.self)
            if text.hasSuffix("\r") { text.removeLast() }
            if text.isEmpty {
                if !data.isEmpty || event != nil {
                    out.append(ServerSentEvent(id: id, event: event ?? "message", data: data.joined(separator: "\n")))
                }
                event = nil
                data = []
                continue
            }
            if text.hasPrefix(":") {
                comments += 1
                if keepAlives { out.append(ServerSentEvent(id: nil, event: "", data: "")) }
                continue
            }
            let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let field = String(parts[0])
            var value = parts.count > 1 ? String(parts[1]) : ""
            if value.hasPrefix(" ") { value.removeFirst() }
            switch field {
            case "id": id = value
            case "event": event = value
            case "data": data.append(value)
            default: break
            }
        }
        return out
    }
}

extension LineSplitter {
    /// Like `feed`, but keeps empty lines (SSE uses them as terminators).
    fileprivate mutating func feedKeepingEmpty(_ bytes: [UInt8]) throws -> [Data] {
        pending.append(contentsOf: bytes)
        var out: [Data] = []
        while let nl = pending.firstIndex(of: 0x0A) {
            out.append(Data(pending[pending.startIndex..<nl]))
            pending.removeSubrange(pending.startIndex...nl)
        }
        if pending.count > Self.maxLine { throw ClientError.transport(url: "", "an event exceeds \(Self.maxLine) bytes") }
        return out
    }
}

extension MarathonClient {
    /// Follows `/v2/events`. The stream ends (or throws) when the connection does; callers reconnect,
    /// passing the last id they saw to resume.
    /// With `keepAlives`, comment lines arrive as events with an empty type.
    /// `loadBalancer`: subscribe as this load balancer, so draining waits for it (Pacer's `?lb=`).
    public func events(
        types: [String] = [], lastEventId: String? = nil, keepAlives: Bool = false,
        loadBalancer: String? = nil
    ) -> AsyncThrowingStream<ServerSentEvent, any Error> {
        let lb = loadBalancer.flatMap { $0.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) }.map { "lb=\($0)" }
        // Pacer's shapes and event types (draining, ready, stalled): this is Pacer's own client.
        let query = (types.map { "event_type=\($0)" } + (lb.map { [$0] } ?? []) + ["embed=pacer"]).joined(separator: "&")
        let url = baseURL + "/v2/events" + (query.isEmpty ? "" : "?" + query)
        let client = transport.client
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let (target, authorization) = URLCredentials.split(url)
                    var request = HTTPClientRequest(url: target)
                    request.headers.add(name: "Accept", value: "text/event-stream")
                    if let authorization { request.headers.add(name: "Authorization", value: authorization) }
                    if let lastEventId { request.headers.add(name: "Last-Event-ID", value: lastEventId) }
                    let response = try await client.execute(request, deadline: .distantFuture)
                    guard response.status == .ok else {
                        throw ClientError.http(status: Int(response.status.code), nil, body: "event stream refused")
                    }
                    var parser = SSEParser(keepAlives: keepAlives)
                    for try await chunk in response.body {
                        for event in try parser.feed(chunk) { continuation.yield(event) }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
