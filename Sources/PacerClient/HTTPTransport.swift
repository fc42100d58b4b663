import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import PacerModel

/// What came back from a plain request.
public struct HTTPResult: Sendable {
    public var status: Int
    public var body: Data
    public var headers: [(String, String)]
    /// Where the answer came from when a redirect was followed; nil when the URL asked answered.
    public var redirectedTo: String?
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A request that did not succeed: either the server answered with an error (with its decoded
/// Marathon-style body when it had one) or the server could not be reached.
public enum ClientError: Error, Sendable, CustomStringConvertible {
    case http(status: Int, APIError?, body: String)
    /// No answer: the request may or may not have reached the server (it timed out, or the
    /// connection closed, after it was sent).
    case transport(url: String, String)
    /// No answer, and the request certainly never left: no connection could be made (refused,
    /// unreachable, connect or TLS handshake timeout), or none was free before the deadline.
    /// Only this tells a caller that the server did not act on it.
    case unsent(url: String, String)

    /// Whether the server certainly did not act on the request.
    public var neverSent: Bool {
        if case .unsent = self { return true }
        return false
    }

    /// No leading master acted on it: it never left, or the master answered that it does not
    /// lead (503). Anything else may have been acted on (an agent's call timed out at a busy master).
    public var noLeaderActed: Bool {
        if case .http(503, _, _) = self { return true }
        return neverSent
    }

    public var description: String {
        switch self {
        case .http(let status, let api?, _):
            let details = api.details.map { "\($0.path): \($0.errors.joined(separator: "; "))" }.joined(separator: "\n  ")
            return "HTTP \(status): \(api.message)" + (details.isEmpty ? "" : "\n  " + details)
        case .http(let status, nil, let body): return "HTTP \(status): \(body.prefix(500))"
        case .transport(let url, let m), .unsent(let url, let m): return "cannot reach \(url): \(m)"
        }
    }
}

/// One place that turns (method, URL, body) into an AsyncHTTPClient call with a bounded wait.
public struct HTTPTransport: Sendable {
    public let client: HTTPClient
    public var timeout: TimeAmount

    /// Gives up connecting after a second (AsyncHTTPClient's default retries a refused connection
    /// for 10 s): a dead master or leader must be noticed at once, so callers move to another.
    public static var client: HTTPClient {
        ClientTLS.shared("default") { tls in
            HTTPClient(
                eventLoopGroupProvider: .singleton,
                configuration: .init(
                    tlsConfiguration: tls, redirectConfiguration: .disallow, timeout: .init(connect: .seconds(1))))
        }
    }

    /// Between the cluster's own processes (agents and frameworks to masters): a refused or silent
    /// peer is given up after 300 ms, so a dead master — or a stale redirect to one — costs little
    /// before the caller tries the next.
    /// Up to 32 connections per peer: a framework sends its ACCEPTs 16 and its KILLs 32 at a time;
    /// a request waiting for a pooled connection longer than the connect timeout is queued again
    /// (`executeWaitingForThePool`).
    public static var cluster: HTTPClient {
        ClientTLS.shared("cluster") { HTTPClient(eventLoopGroupProvider: .singleton, configuration: clusterConfiguration($0)) }
    }

    public static func clusterConfiguration(_ tls: TLSConfiguration = ClientTLS.configuration) -> HTTPClient.Configuration {
        var c = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(300)))
        c.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 32)
        return c
    }

    public init(client: HTTPClient = HTTPTransport.client, timeout: TimeAmount = .seconds(10)) {
        self.client = client
        self.timeout = timeout
    }

    public func send(
        _ method: HTTPMethod, _ url: String, body: Data? = nil,
        headers: [(String, String)] = [], maxResponse: Int = 64 << 20
    ) async throws(ClientError) -> HTTPResult {
        let (target, authorization) = URLCredentials.split(url)
        var request = HTTPClientRequest(url: target)
        request.method = method
        for (k, v) in headers { request.headers.add(name: k, value: v) }
        if let authorization, !request.headers.contains(name: "Authorization") {
            request.headers.add(name: "Authorization", value: authorization)
        }
        if let body {
            if !request.headers.contains(name: "Content-Type") {
                request.headers.add(name: "Content-Type", value: "application/json")
            }
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            // A master that does not lead answers 307 to the leader. The shared clients follow no
            // redirects themselves (AsyncHTTPClient drops `Authorization` on the way, and an agent
            // carrying the cluster secret was refused by the leader it was sent to); the same
            // request, credentials included, goes to the leader here, a few hops at most.
            var redirectedTo: String?
            for hop in 0... {
                let response = try await executeWaitingForThePool(request)
                let bytes = try await response.body.collect(upTo: maxResponse)
                if [307, 308].contains(response.status.code), hop < 3, let location = response.headers.first(name: "Location"),
                    location.hasPrefix("http://") || location.hasPrefix("https://")
                {
                    request.url = location
                    redirectedTo = location
                    continue
                }
                return HTTPResult(
                    status: Int(response.status.code), body: Data(bytes.readableBytesView),
                    headers: response.headers.map { ($0.name, $0.value) }, redirectedTo: redirectedTo)
            }
            fatalError("unreachable: the loop returns or continues")
        } catch {
            // Never the credentials in the message.
            throw Self.neverSent(error) ? .unsent(url: target, "\(error)") : .transport(url: target, "\(error)")
        }
    }

    /// Errors raised before a request's first byte is written: the peer did not act on it. A
    /// timeout or a closed connection after that is ambiguous (the master once reported a LAUNCH
    /// that timed out as dropped while the agent ran it: a duplicate once the framework replaced it).
    static func neverSent(_ error: any Error) -> Bool {
        switch error {
        case let e as HTTPClientError:
            return [.connectTimeout, .getConnectionFromPoolTimeout, .tlsHandshakeTimeout, .invalidURL, .emptyHost, .emptyScheme]
                .contains(e)
        case is NIOConnectionError: return true
        case ChannelError.connectTimeout: return true
        case let e as IOError: return [ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EADDRNOTAVAIL].contains(e.errnoCode)
        case is NIOSSLError: return true
        default: return false
        }
    }

    /// AsyncHTTPClient gives a request only its connect timeout to get a connection from the
    /// pool, and fails it unsent (`getConnectionFromPoolTimeout`) when every connection to a live
    /// peer is busy — only then: a dead peer fails with its connect error (the pool's
    /// `timeoutRequest`). Unsent, it is safe to queue again, up to the request's own timeout: a
    /// busy peer answers late instead of not at all. The 300 ms of the cluster client failed
    /// KILLs and LAUNCHes in bursts on a slow machine (ScaleCorrectnessTests, 200 agents), and
    /// each failure came back as a retry or a relaunch: more load on what was already saturated.
    private func executeWaitingForThePool(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        let deadline = NIODeadline.now() + timeout
        var request = request
        while true {
            // What is left of the timeout, so a server that gets to the request after the caller
            // gave up does not work on it (`CallerTimeout`).
            let left = Duration.nanoseconds((deadline - .now()).nanoseconds)
            request.headers.replaceOrAdd(name: CallerTimeout.header, value: CallerTimeout.value(remaining: left))
            do {
                return try await client.execute(request, deadline: deadline)
            } catch let error as HTTPClientError where error == .getConnectionFromPoolTimeout && .now() < deadline {
                continue
            }
        }
    }

    /// Sends and requires a 2xx answer; decodes Marathon-style error bodies otherwise.
    public func expectOK(
        _ method: HTTPMethod, _ url: String, body: Data? = nil,
        headers: [(String, String)] = []
    ) async throws(ClientError) -> HTTPResult {
        let r = try await send(method, url, body: body, headers: headers)
        guard (200..<300).contains(r.status) else {
            var api = try? WireJSON.marathonDecoder().decode(APIError.self, from: r.body)
            api?.status = r.status
            throw .http(status: r.status, api, body: r.text)
        }
        return r
    }
}
