import Foundation
import Hummingbird
import PacerModel
import PacerServerKit

/// Marathon's `/v2` API over the scheduler.
enum AppsRoutes {
    /// `lastEventId`: the newest event published, sent with `/v2/apps` as `X-Pacer-Event-Id` so a
    /// follower of the event stream knows which events the answer already contains.
    static func router(
        _ scheduler: Scheduler, info: FrameworkInfoView, abdicate: (@Sendable () async -> Void)? = nil,
        lastEventId: @escaping @Sendable () async -> Int64 = { 0 }, requestLimit: Int = FrameworkConfig.defaultRequestLimit,
        authenticator: Authenticator? = nil, agentSecret: String? = nil, corsOrigins: [String] = []
    ) -> Router<PacerRequestContext> {
        let router = Router(context: PacerRequestContext.self)
        router.add(middleware: RequestLimitMiddleware(limit: requestLimit))
        router.add(middleware: BrowserSafetyMiddleware(corsOrigins: corsOrigins))
        if let authenticator { router.add(middleware: AccessMiddleware(authenticator)) }
        router.add(middleware: APIErrorMiddleware())
        router.add(middleware: CallerDeadlineMiddleware())
        router.get("/ping") { _, _ in JSONResponse.text("pong") }
        OpenAPIDocument.serve(.framework, on: router)
        router.get("/v2/info") { request, _ in
            try JSONResponse.make(
                await info.with(frameworkId: scheduler.frameworkId, largestAgent: scheduler.largestAgent),
                encoder: request.encoder)
        }
        router.get("/v2/leader") { request, _ in
            try JSONResponse.make(LeaderView(leader: info.leader, epoch: info.epoch), encoder: request.encoder)
        }
        router.delete("/v2/leader") { _, _ in
            // Marathon's abdication: another replica takes over within a lease's time.
            guard let abdicate else { throw APIError(status: 404, message: "no leader election: this framework runs alone") }
            // Giving the lead up ends this process at once (crash-only), so the answer is written
            // first and the lease revoked after: a client must not see the connection close instead.
            // `finish` only queues the bytes for the event loop, and the exit can beat them to the
            // socket (1 run in 16 of LeaderChurnTests F25 did): this replica keeps leading, rightly,
            // for a moment more while they go out.
            let answer = ByteBuffer(bytes: try JSONEncoder().encode(["message": "Leadership abdicated"]))
            return Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: ResponseBody(contentLength: answer.readableBytes) { writer in
                    try await writer.write(answer)
                    try await writer.finish(nil)
                    try? await Task.sleep(for: .milliseconds(250))
                    await abdicate()
                })
        }
        router.get("/v2/apps") { request, _ in
            let embed = request.uri.queryParameters.getAll("embed").contains { $0 == "apps.tasks" || $0 == "app.tasks" }
            let filter = request.uri.queryParameters.get("id")
            // Read before the view is taken: every event up to this id changed what the view shows.
            let upTo = await lastEventId()
            let view = try await scheduler.viewForWaitingCaller()
            let all = view.statuses(embedTasks: embed, idFilter: filter)
            let shown = all.filter { RequestPrincipal.mayRead($0.status.app.id) }
            return try BulkJSON.apps(
                shown, request: request, headers: [.init("X-Pacer-Event-Id")!: "\(upTo)"],
                scope: filter == nil && shown.count == all.count ? .whole : .part(of: view.tasks))
        }
        router.post("/v2/apps") { request, _ in
            let spec = try AppDefinition.request(from: try await BodyReader.json(request))
            try RequestPrincipal.requireChange([spec.id])
            let status = try await scheduler.create(spec, force: try request.force)
            return try JSONResponse.make(
                status, status: .created, encoder: request.encoder, headers: [.location: "/v2/apps\(status.app.id)"])
        }
        AppRoutes.register(on: router, scheduler)
        GroupRoutes.register(on: router, scheduler)
        TaskFileRoutes.register(on: router, scheduler, agentSecret: agentSecret)
        router.get("/v2/tasks") { request, _ in
            let view = try await scheduler.viewForWaitingCaller()
            var groups = view.taskGroups(of: nil)
            var whole = true
            if let p = RequestPrincipal.current, !p.readsAll {
                groups = groups.filter { p.mayRead($0.appId) }
                whole = false
            }
            if let state = request.uri.queryParameters.get("status") {
                for i in groups.indices { groups[i].records.removeAll { "TASK_" + state.uppercased() != $0.state.rawValue } }
                whole = false
            }
            return BulkJSON.tasks(groups, request: request, scope: whole ? .whole : .part(of: view.tasks))
        }
        router.post("/v2/tasks/delete") { request, _ in
            struct Ids: Decodable { var ids: [String] }
            let ids = try JSONBody.decode(Ids.self, from: try await BodyReader.json(request)).ids
            _ = try request.force  // accepted (tasks are killed whatever deployment runs), but validated
            let (tasks, deployment) = try await scheduler.killTasks(ids, scale: try request.flag("scale"))
            if let deployment { return try JSONResponse.make(deployment) }
            return try JSONResponse.make(["tasks": tasks])
        }
        // Pacer's addition: a load balancer reports tasks it has taken out of rotation (draining).
        router.post("/v2/tasks/drained") { request, _ in
            struct Drained: Decodable {
                var lb: String
                var taskIds: [String]
            }
            let body = try JSONBody.decode(Drained.self, from: try await BodyReader.json(request))
            await scheduler.drained(body.taskIds, by: body.lb)
            return Response(status: .noContent)
        }
        router.post("/v2/deployments/:id/promote") { _, context in
            try JSONResponse.make(try await scheduler.promote(try context.parameters.require("id")))
        }
        router.post("/v2/deployments/:id/abort") { _, context in
            try await scheduler.abortCanary(try context.parameters.require("id"))
            return Response(status: .noContent)
        }
        router.get("/v2/deployments") { request, _ in
            try JSONResponse.make(
                await scheduler.deployments(pacer: request.embedsPacer).filter { d in
                    d.base.affectedApps.contains { (try? PathId(validating: $0)).map(RequestPrincipal.mayRead) ?? false }
                }, encoder: request.encoder)
        }
        router.delete("/v2/deployments/:id") { request, context in
            let id = try context.parameters.require("id")
            if let result = try await scheduler.cancelDeployment(id, force: try request.force) {
                return try JSONResponse.make(result)
            }
            return Response(status: .accepted)
        }
        router.get("/metrics") { _, _ in
            JSONResponse.text(
                await scheduler.metricsSnapshot().text(epoch: info.epoch, now: SteadyClock.instant) + ProcessMetrics.text())
        }
        router.get("/v2/queue") { _, _ in
            try JSONResponse.make(["queue": await scheduler.queue().filter { RequestPrincipal.mayRead($0.app.id) }])
        }
        router.delete("/v2/queue/**") { request, context in
            var parts = context.parameters.getCatchAll().map(String.init)
            guard parts.last == "delay" else { throw APIError.notFound("unknown path \(request.uri.path)") }
            parts.removeLast()
            await scheduler.resetDelay(try AppRoutes.pathId(parts))
            return Response(status: .noContent)
        }
        return router
    }
}

extension Request {
    /// `?name=true|false` (any case: Python clients send `True`), `1|0`; absent is false. Anything
    /// else, empty included, is a 400 rather than a guess (`?force=yes` must not quietly mean false;
    /// schemathesis found `?scale=` taken as false).
    func flag(_ name: String) throws(APIError) -> Bool {
        guard let value = uri.queryParameters.get(name) else { return false }
        switch value.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw APIError.badRequest("query parameter \(name) must be true or false, got '\(value.prefix(40))'")
        }
    }
    var force: Bool { get throws(APIError) { try flag("force") } }
    /// `embed=pacer`: Pacer's additions to Marathon's objects (Marathon clients decode strictly, so
    /// they are left out unless asked for).
    var embedsPacer: Bool { uri.queryParameters.getAll("embed").contains("pacer") }
    /// The encoder for this request's answer: Marathon's shapes, or with Pacer's additions.
    var encoder: JSONEncoder { MarathonShape.encoder(pacer: embedsPacer) }
}
