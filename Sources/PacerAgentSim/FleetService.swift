import Foundation
import Hummingbird
import Logging
import PacerModel
import PacerServerKit
import ServiceLifecycle

/// The simulated agents as a service: one listener, agent n's API under `/agents/n` (the URL each
/// registers with), `GET /state` for the fleet's totals.
public struct FleetService: Service {
    public let fleet: Fleet
    let config: FleetConfig
    let logger: Logger

    public init(config: FleetConfig, logger: Logger = Logger(label: "pacer.agent.sim")) {
        self.config = config
        self.logger = logger
        fleet = Fleet(config: config, logger: logger)
    }

    public func run() async throws {
        let router = Router()
        router.add(
            middleware: ClusterSecretsMiddleware(AgentSecret.guards(config.agentSecret, messages: "/agents/", methods: ["POST"])))
        router.add(middleware: APIErrorMiddleware())
        let fleet = self.fleet
        router.get("/health") { _, _ in JSONResponse.text("ok") }
        router.get("/state") { _, _ in try JSONResponse.make(await fleet.summary()) }
        router.get("/tasks") { _, _ in try JSONResponse.make(await fleet.liveTasks()) }
        router.get("/agents/:n/health") { _, context in
            guard await fleet.tasks(of: try Self.index(context)) != nil else {
                throw APIError.notFound("no such simulated agent")
            }
            return JSONResponse.text("ok")
        }
        router.get("/agents/:n/state") { _, context in
            guard let tasks = await fleet.tasks(of: try Self.index(context)) else {
                throw APIError.notFound("no such simulated agent")
            }
            return try JSONResponse.make(tasks, encoder: WireJSON.masterEncoder())
        }
        router.post("/agents/:n/api/v1") { request, context in
            let n = try Self.index(context)
            let message = try JSONBody.decode(
                AgentMessage.self, from: try await BodyReader.json(request, limit: 64 << 20),
                decoder: WireJSON.masterDecoder())
            guard await fleet.handle(n, message) else { throw APIError.notFound("no such simulated agent") }
            return Response(status: .ok)
        }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "pacer-agent-sim"),
            logger: logger)
        logger.info("simulated agents", metadata: ["agents": "\(config.agents)", "address": "\(config.host):\(config.port)"])
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await app.run() }
            group.addTask { await cancelWhenGracefulShutdown { await fleet.run() } }
            if let follow = config.masterElection {
                group.addTask {
                    await cancelWhenGracefulShutdown {
                        await follow { leader in if let leader { await fleet.leaderElected(leader) } }
                    }
                }
            }
        }
    }

    static func index(_ context: BasicRequestContext) throws -> Int {
        guard let n = context.parameters.get("n").flatMap(Int.init) else {
            throw APIError.badRequest("agent index must be a number")
        }
        return n
    }
}
