import AsyncHTTPClient
import Foundation
import NIOCore
import PacerModel

/// The master's API as frameworks and agents use it.
public struct MasterClient: Sendable {
    public let baseURL: String
    /// The address for logs and messages: without the credentials it may carry.
    public var displayURL: String { URLCredentials.split(baseURL).url }
    let transport: HTTPTransport
    let encoder = WireJSON.masterEncoder()
    /// The subscription scheduler calls belong to (`Mesos-Stream-Id`); the master refuses calls of
    /// any other, so an instance holding an older subscription cannot act.
    public private(set) var streamId: String?

    /// This client, making its calls as part of the subscription `streamId`.
    public func on(stream streamId: String) -> MasterClient {
        var c = self
        c.streamId = streamId
        return c
    }

    public init(baseURL: String, transport: HTTPTransport = HTTPTransport()) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.transport = transport
    }

    public func call(_ call: SchedulerCall) async throws(ClientError) {
        let body = try! encoder.encode(call)  // encoding plain value types cannot fail
        _ = try await transport.expectOK(
            .POST, baseURL + "/api/v1/scheduler", body: body,
            headers: streamId.map { [("Mesos-Stream-Id", $0)] } ?? [])
    }

    /// Agent → master; returns the HTTP status (404 on HEARTBEAT means: register again). A master
    /// that does not lead redirects to the leader (followed by the transport), and the answer says
    /// which master that was; one that knows no leader (503) is an error, so the caller moves on to
    /// the next master it knows.
    public func agentCall(_ call: AgentCall) async throws(ClientError) -> AgentCallAnswer {
        let body = try! encoder.encode(call)
        let r = try await transport.send(.POST, baseURL + "/api/v1/agent", body: body)
        if r.status == 503 { throw .http(status: 503, nil, body: r.text) }
        let reply = r.status == 200 ? try? WireJSON.masterDecoder().decode(AgentCallReply.self, from: r.body) : nil
        return AgentCallAnswer(
            status: r.status, heartbeatIntervalSeconds: reply?.heartbeatIntervalSeconds,
            answeredBy: r.redirectedTo.flatMap(Self.hostPort))
    }

    /// Opens the SUBSCRIBE stream. Events arrive in batches (all complete lines of a read), so the
    /// framework can persist and acknowledge many updates at once. `subscribed` gets this client on
    /// the new stream before the first event.
    public func subscribe(
        _ info: FrameworkInfo,
        subscribed: @escaping @Sendable (MasterClient) async -> Void
    ) -> AsyncThrowingStream<[SchedulerEvent], any Error> {
        let body = try! encoder.encode(SchedulerCall.subscribe(info))
        let (url, authorization) = URLCredentials.split(baseURL + "/api/v1/scheduler")
        let client = transport.client
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var request = HTTPClientRequest(url: url)
                    request.method = .POST
                    request.headers.add(name: "Content-Type", value: "application/json")
                    if let authorization { request.headers.add(name: "Authorization", value: authorization) }
                    request.body = .bytes(ByteBuffer(bytes: body))
                    let response = try await client.execute(request, deadline: .distantFuture)
                    guard response.status == .ok else {
                        let text = try await response.body.collect(upTo: 1 << 16)
                        throw ClientError.http(status: Int(response.status.code), nil, body: String(buffer: text))
                    }
                    guard let streamId = response.headers.first(name: "Mesos-Stream-Id") else {
                        throw ClientError.transport(url: url, "the SUBSCRIBE response carries no Mesos-Stream-Id")
                    }
                    await subscribed(self.on(stream: streamId))
                    var lines = LineSplitter()
                    let decoder = WireJSON.masterDecoder()
                    for try await chunk in response.body {
                        let events = try lines.feed(chunk).map { try decoder.decode(SchedulerEvent.self, from: $0) }
                        if !events.isEmpty { continuation.yield(events) }
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

/// The master's answer to an agent call: its status (404: register again) and, on REGISTER and
/// HEARTBEAT, the heartbeat interval to keep.
public struct AgentCallAnswer: Sendable, Equatable {
    public var status: Int
    public var heartbeatIntervalSeconds: Double?
    /// "host:port" of the master that answered when it was not the one asked (a follower
    /// redirected to it). An agent that counted itself with the follower would ignore that
    /// follower's election later, taking it for the master it already has
    /// (`MasterHATests.testAgentsFollowTheElection…` failed that way, one run in five).
    public var answeredBy: String?
}

/// Splits a byte stream into newline-terminated records, bounded so a broken peer cannot make
/// one record grow without limit.
public struct LineSplitter: Sendable {
    var pending = Data()
    public static let maxLine = 16 << 20
    public init() {}

    /// Lines are cut out first and the consumed bytes removed once: removing each line from the
    /// front as it was found moved the rest of a 64 KiB chunk once per line (5 % of the framework's
    /// CPU while it took 3,000 updates a second).
    public mutating func feed(_ chunk: ByteBuffer) throws -> [Data] {
        pending.append(contentsOf: chunk.readableBytesView)
        var lines: [Data] = []
        var consumed = 0
        pending.withUnsafeBytes { bytes in
            var start = 0
            for i in 0..<bytes.count where bytes[i] == 0x0A {
                if i > start { lines.append(Data(bytes[start..<i])) }
                start = i + 1
            }
            consumed = start
        }
        if consumed > 0 { pending.removeSubrange(pending.startIndex..<pending.startIndex + consumed) }
        if pending.count > Self.maxLine { throw ClientError.transport(url: "", "a stream record exceeds \(Self.maxLine) bytes") }
        return lines
    }
}

/// Master → agent messages.
public struct AgentClient: Sendable {
    let transport: HTTPTransport
    /// `master:SECRET` when agents take messages only from holders of the cluster's agent secret.
    let credentials: String?
    /// Its own pool (per agent, one connection at a time: deliveries to an agent are in order; up to
    /// 32 to one host, where simulated agents share one listener). AsyncHTTPClient's connect timeout
    /// is also how long a request may wait for a pooled connection: at the cluster client's 300 ms,
    /// a burst of LAUNCHes to 2,000 simulated agents queued longer than that, every one failed
    /// unsent (`getConnectionFromPoolTimeout`) and was reported dropped, the framework launched
    /// them again into the same queue, and placement never finished. Such a request is now queued
    /// again up to its timeout (`HTTPTransport.send`); the 2 s here make fewer rounds of that, and
    /// a dead agent costs its own queue these 2 s, no one else's.
    public init(
        transport: HTTPTransport = HTTPTransport(client: AgentClient.client, timeout: .seconds(5)), credentials: String? = nil
    ) {
        self.transport = transport
        self.credentials = credentials
    }
    public static var client: HTTPClient {
        ClientTLS.shared("agents") {
            var configuration = HTTPTransport.clusterConfiguration($0)
            configuration.timeout.connect = .seconds(2)
            return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        }
    }

    public func send(_ message: AgentMessage, to agentURL: String) async throws(ClientError) {
        let body = try! WireJSON.masterEncoder().encode(message)
        let url = credentials.map { URLCredentials.embed($0, in: agentURL) } ?? agentURL
        _ = try await transport.expectOK(.POST, url + "/api/v1", body: body)
    }
}

extension MasterClient {
    /// Which of `masters` the masters' election names as leader: its value is the leader's
    /// "host:port" (`pacer master` announces itself so). Nil when no URL has that address, e.g.
    /// a master bound to 0.0.0.0 and reached by name: the caller then tries the masters in turn.
    public static func index(ofLeader leader: String, in masters: [MasterClient]) -> Int? {
        masters.firstIndex { hostPort($0.displayURL) == leader }
    }

    /// "host:port" of a URL: how the election names a master.
    static func hostPort(_ url: String) -> String? {
        guard let url = URLComponents(string: url), let host = url.host, let port = url.port else { return nil }
        return "\(host):\(port)"
    }
}
