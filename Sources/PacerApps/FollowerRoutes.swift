import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import PacerClient
import PacerModel
import PacerServerKit
import PacerStore

/// What a replica that does not lead serves: `/v2/leader` and `/ping` itself, everything else
/// forwarded to the leader (bodies and event streams included), so clients may talk to any replica.
/// `GET /v2/leader`: Marathon's `leader`; with `embed=pacer` also Pacer's `epoch` (the term,
/// growing with each election) under `pacer`.
struct LeaderView: Encodable, Sendable {
    struct Extra: Encodable, Sendable { var epoch: Int64? }
    var leader: String
    var epoch: Int64?

    func encode(to encoder: any Encoder) throws {
        struct Base: Encodable { var leader: String }
        try PacerExtended(Base(leader: leader), pacer: Extra(epoch: epoch)).encode(to: encoder)
    }
}

/// The store did not answer or refused a write (etcd without quorum, a fenced-off ex-leader): the
/// write did not happen; 503 tells the client to retry.
extension StoreError: HTTPStatusError {
    public var httpStatus: Int { 503 }
}

enum FollowerRoutes {
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection", "host",
        "content-length"
    ]

    /// `me`: this replica's address; while it takes over, the key already names it but its API is
    /// not up yet, and forwarding to itself would loop.
    /// Gives up connecting within half a second: a leader that just died refuses connections, and
    /// the shared client would retry them for 10 s while the lease expires and a new leader takes over.
    /// It verifies the leader's certificate like every client of the process (A10: `--ca`).
    static var proxyClient: HTTPClient {
        ClientTLS.shared("follower-proxy") {
            HTTPClient(
                eventLoopGroupProvider: .singleton,
                configuration: .init(tlsConfiguration: $0, timeout: .init(connect: .milliseconds(500))))
        }
    }

    static func router(
        election: LeaderElection, me: String, client: HTTPClient = proxyClient,
        requestLimit: Int = FrameworkConfig.defaultRequestLimit,
        authenticator: Authenticator? = nil, scheme: String = "http", corsOrigins: [String] = []
    ) -> Router<PacerRequestContext> {
        let router = Router(context: PacerRequestContext.self)
        router.add(middleware: RequestLimitMiddleware(limit: requestLimit))
        router.add(middleware: BrowserSafetyMiddleware(corsOrigins: corsOrigins))
        if let authenticator { router.add(middleware: AccessMiddleware(authenticator)) }
        router.add(middleware: APIErrorMiddleware())
        router.add(middleware: CallerDeadlineMiddleware())
        router.get("/ping") { _, _ in JSONResponse.text("pong") }
        OpenAPIDocument.serve(.framework, on: router)
        router.get("/v2/leader") { request, _ in
            guard let current = try await election.current() else { throw noLeader }
            return try JSONResponse.make(LeaderView(leader: current.leader, epoch: current.epoch), encoder: request.encoder)
        }
        let leaderBase: @Sendable (Request) async throws -> String = { request in
            // Forwarded to us by a replica that took us for the leader: forwarding again could loop.
            if request.headers[.init(forwardedBy)!] != nil { throw loop }
            guard let leader = try await election.leader(), leader != me else { throw noLeader }
            return scheme + "://" + leader
        }
        let forward: @Sendable (Request, PacerRequestContext) async throws -> Response = { request, _ in
            try await proxy(request, to: try await leaderBase(request), client: client)
        }
        // The leader's figures, but this replica's own process families: each replica is scraped
        // for its own memory and descriptors, and the leader's would be reported once per replica.
        router.get("/metrics") { request, _ in
            let base = try await leaderBase(request)
            let answer = try await send(request, to: base, client: client)
            let body = try await answer.body.collect(upTo: 64 << 20)
            guard answer.status == .ok else {  // the leader's error as it gave it
                var headers = HTTPFields()
                if let type = answer.headers.first(name: "content-type") { headers[.contentType] = type }
                return Response(
                    status: .init(code: Int(answer.status.code)), headers: headers, body: .init(byteBuffer: body))
            }
            return JSONResponse.text(ProcessMetrics.withOwnProcessFamilies(String(buffer: body)))
        }
        // The router does not backtrack out of a static segment, so /v2/** is named beside /**, and
        // the other methods of the paths served here (abdication on a replica that just lost the
        // lead was a 404) are named too.
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] {
            for path in ["/", "/**", "/v2/**"] { router.on(RouterPath(path), method: method, use: forward) }
        }
        router.delete("/v2/leader", use: forward)
        return router
    }

    static let noLeader = APIError(status: 503, message: "no leader is elected at the moment; retry in a second")
    static let forwardedBy = "X-Forwarded-By"
    static let loop = APIError(
        status: 502,
        message:
            "forwarding loop detected: a replica forwarded this request here, but this replica does not lead either (leadership is changing); retry"
    )

    static func proxy(_ request: Request, to base: String, client: HTTPClient) async throws -> Response {
        let response = try await send(request, to: base, client: client)
        var headers = HTTPFields()
        for h in response.headers where !hopByHop.contains(h.name.lowercased()) {
            if let name = HTTPField.Name(h.name) { headers.append(HTTPField(name: name, value: h.value)) }
        }
        // Streamed through (the event stream never ends by itself).
        return Response(
            status: .init(code: Int(response.status.code)), headers: headers,
            body: ResponseBody { writer in
                for try await chunk in response.body { try await writer.write(chunk) }
                try await writer.finish(nil)
            })
    }

    /// `request` sent on to the leader at `base`, its answer not yet read.
    private static func send(_ request: Request, to base: String, client: HTTPClient) async throws -> HTTPClientResponse {
        var out = HTTPClientRequest(url: base + request.uri.description)
        out.method = HTTPMethod(rawValue: request.method.rawValue)
        for field in request.headers where !hopByHop.contains(field.name.canonicalName) {
            out.headers.add(name: field.name.rawName, value: field.value)
        }
        out.headers.add(name: forwardedBy, value: "pacer-follower")
        let body = try await request.body.collect(upTo: 64 << 20)
        if body.readableBytes > 0 { out.body = .bytes(body) }
        do { return try await client.execute(out, deadline: .distantFuture) } catch {
            throw APIError(status: 502, message: "the leader at \(base) did not answer: \(error); retry")
        }
    }
}
