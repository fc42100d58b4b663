import Foundation
import Hummingbird
import PacerMasterCore
import PacerModel
import PacerServerKit
import Synchronization

enum MasterRoutes {
    static func router(
        _ master: Master, guards: [ClusterSecretsMiddleware<BasicRequestContext>.Guard] = [], scheme: String = "http"
    ) -> Router<BasicRequestContext> {
        let router = Router()
        let replies = HeartbeatReplies()
        router.add(middleware: ClusterSecretsMiddleware(guards))
        router.add(middleware: APIErrorMiddleware())
        router.add(middleware: CallerDeadlineMiddleware())
        router.add(middleware: LeaderOnly(master: master, scheme: scheme))
        router.get("/health") { _, _ in JSONResponse.text("ok") }
        OpenAPIDocument.serve(.master, on: router)
        // Any master answers who leads (the others redirect everything else there).
        router.get("/master/leader") { _, _ in try JSONResponse.make(await master.leadership) }
        let stateEncoding = ClusterStateEncoding()
        router.get("/state") { _, _ in
            let state = try await master.stateForWaitingCaller(withTasks: true)
            return JSONResponse.encoded(ByteBuffer(bytes: try stateEncoding.encode(state, withTasks: true)))
        }
        // Agents and frameworks without their tasks (Mesos' /state-summary): what a framework
        // polls for agent sizes, a fraction of /state at 50,000 tasks.
        router.get("/state-summary") { _, _ in
            let state = try await master.stateForWaitingCaller(withTasks: false)
            return JSONResponse.encoded(ByteBuffer(bytes: try stateEncoding.encode(state, withTasks: false)))
        }
        router.post("/api/v1/scheduler") { request, _ in
            // An ACCEPT may carry a thousand task infos: larger than an app spec, still bounded.
            let call = try JSONBody.decode(
                SchedulerCall.self, from: try await BodyReader.json(request, limit: 32 << 20),
                decoder: WireJSON.masterDecoder())
            if call.type == .subscribe {
                guard let info = call.subscribe?.frameworkInfo else {
                    throw APIError.badRequest("SUBSCRIBE needs subscribe.framework_info")
                }
                return await subscription(master, info)
            }
            let streamId = request.headers[.init("Mesos-Stream-Id")!]
            do { try await master.handle(call, streamId: streamId) } catch let e as MasterCallError {
                throw APIError.badRequest(e.message)
            }
            return Response(status: .accepted)
        }
        operatorRoutes(router, master)
        router.post("/api/v1/agent") { request, _ in
            let call = try JSONBody.decode(
                AgentCall.self, from: try await BodyReader.json(request, limit: 64 << 20),
                decoder: WireJSON.masterDecoder())
            let (status, heartbeat) = await master.handle(call)
            if status == 404 { return JSONResponse.error(APIError.notFound("unknown agent \(call.agentId): register again")) }
            if status == 504 { return JSONResponse.error(CallerDeadline.expiredError) }
            guard let heartbeat else { return Response(status: .init(code: status)) }
            return try replies.response(heartbeat)
        }
        return router
    }

    /// The answer to a registration or heartbeat changes only with the interval, which changes only
    /// with the cluster's size: it is encoded once per interval, not once per heartbeat (encoding
    /// it was 5.7 % of the master's CPU at 2,000 agents with heartbeats only).
    final class HeartbeatReplies: Sendable {
        private let last = Mutex<(interval: Double, body: ByteBuffer)?>(nil)

        func response(_ interval: Double) throws -> Response {
            let body = try last.withLock { cached throws -> ByteBuffer in
                if let cached, cached.interval == interval { return cached.body }
                let encoded = ByteBuffer(
                    bytes: try WireJSON.masterEncoder().encode(AgentCallReply(heartbeatIntervalSeconds: interval)))
                cached = (interval, encoded)
                return encoded
            }
            return JSONResponse.encoded(body)
        }
    }

    struct WeightBody: Decodable {
        var role: String
        var weight: Double
    }
    struct QuotaBody: Decodable {
        var role: String
        var guarantee: Resources?
        var limit: Resources?
    }

    /// The operator API: reservations, weights and quota change at runtime, no agent restart.
    /// A refusal (in use, not enough free, bad role) is 409 with a message that says why.
    private static func operatorRoutes(_ router: Router<BasicRequestContext>, _ master: Master) {
        router.post("/master/reserve") { request, _ in
            let r = try await body(Reservation.self, request)
            return try await refusing { try await master.reserve(r) }
        }
        router.post("/master/unreserve") { request, _ in
            let r = try await body(Reservation.self, request)
            return try await refusing { try await master.unreserve(r) }
        }
        router.put("/master/weights") { request, _ in
            let list = try await body([WeightBody].self, request)
            return try await refusing {
                var last = ResourcePolicy()
                for w in list { last = try await master.setWeight(w.role, w.weight) }
                return last
            }
        }
        router.put("/master/quota") { request, _ in
            let q = try await body(QuotaBody.self, request)
            return try await refusing {
                try await master.setQuota(q.role, Quota(guarantee: q.guarantee ?? Resources(), limit: q.limit))
            }
        }
        router.delete("/master/quota/:role") { _, context in
            let role = context.parameters.get("role") ?? ""
            return try await refusing { try await master.setQuota(role, nil) }
        }
        router.get("/master/roles") { _, _ in try JSONResponse.make(await master.roles()) }
        router.get("/master/allocation") { _, _ in try JSONResponse.make(await master.allocation()) }
        router.get("/metrics") { _, _ in JSONResponse.text(await master.metrics() + ProcessMetrics.text()) }
    }

    @Sendable static func body<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        try JSONBody.decode(T.self, from: try await BodyReader.json(request), decoder: JSONDecoder())
    }

    @Sendable static func refusing(_ work: () async throws -> ResourcePolicy) async throws -> Response {
        do { return try JSONResponse.make(try await work()) } catch let e as MasterCallError {
            throw APIError(status: 409, message: e.message)
        }
    }

    /// The SUBSCRIBE response: one JSON event per line for as long as the framework stays.
    static func subscription(_ master: Master, _ info: FrameworkInfo) async -> Response {
        let (id, streamId, generation, events) = await master.subscribe(info)
        let body = ResponseBody { writer in
            do {
                for await event in events {
                    try await writer.write(ByteBuffer(bytes: try event.streamLine()))
                }
            } catch {
                // The framework went away mid-write; its end is recorded below.
            }
            await master.streamEnded(frameworkId: id, generation: generation)
            try? await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/json", .init("Mesos-Stream-Id")!: streamId], body: body)
    }
}

/// A master that does not lead redirects everything but `/health` and `/master/leader` to the
/// leader (307: method and body kept, as Mesos masters do), so agents, frameworks and operators
/// given any master reach the leader. With no leader known yet it answers 503: try again.
struct LeaderOnly: RouterMiddleware {
    typealias Context = BasicRequestContext
    let master: Master
    /// `https` when the masters serve TLS (they all do or none does).
    var scheme = "http"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response
    {
        let path = request.uri.path
        if master.leading || path == "/health" || path == "/master/leader" { return try await next(request, context) }
        guard let leader = await master.leader else { throw APIError(status: 503, message: await master.notLeading) }
        var response = JSONResponse.error(APIError(status: 307, message: "this master does not lead; the leader is \(leader)"))
        response.headers[.location] = "\(scheme)://\(leader)\(path)\(request.uri.query.map { "?" + $0 } ?? "")"
        return response
    }
}
