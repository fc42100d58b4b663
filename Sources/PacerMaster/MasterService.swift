import Foundation
import Hummingbird
import Logging
import PacerClient
import PacerMasterCore
import PacerModel
import PacerServerKit
import PacerStore
import ServiceLifecycle

public struct MasterConfig: Sendable {
    public var host = "127.0.0.1"
    public var port = 5050
    public var settings = MasterSettings()
    public var tick: Duration = .milliseconds(200)
    /// Holds the operator's policy (weights, quotas, reservations); nil keeps it in memory only.
    public var stateDir: String?
    /// Replicated store (etcd): the policy lives there, and masters elect a leader through it.
    public var store: (any StateStore)?
    public var election: LeaderElection?
    /// The cluster's agent secret: agents register with `agent:SECRET`, and the master sends
    /// LAUNCH and KILL with `master:SECRET`. nil: agents are not authenticated.
    public var agentSecret: String?
    /// `name:secret` of each framework allowed to subscribe and call (empty: any).
    public var frameworkCredentials: [String] = []
    /// `user:password` that reservation, weight and quota changes need (nil: anyone).
    public var operatorCredentials: String?
    /// HTTPS for the API (nil: plain HTTP).
    public var tls: ServerTLS?
    public init() {}

    /// The guards of the master's API (none unless secrets are configured).
    var guards: [ClusterSecretsMiddleware<BasicRequestContext>.Guard] {
        [
            .init(pathPrefix: "/api/v1/agent", credentials: agentSecret.map { ["agent:" + $0] } ?? [], realm: "Pacer agents"),
            .init(pathPrefix: "/api/v1/scheduler", credentials: frameworkCredentials, realm: "Pacer frameworks"),
            .init(
                pathPrefix: "/master/", methods: ["POST", "PUT", "DELETE"], credentials: operatorCredentials.map { [$0] } ?? [],
                realm: "Pacer operators")
        ]
    }
}

/// The master as a long-running service: HTTP API, periodic ticks, agent message delivery.
public struct MasterService: Service {
    public let master: Master
    let config: MasterConfig
    let logger: Logger

    public init(config: MasterConfig, logger: Logger = Logger(label: "pacer.master")) async throws {
        self.config = config
        self.logger = logger
        if let dir = config.stateDir { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        master = try await Master(
            settings: config.settings, policyStorage: Self.policyStorage(config), leading: config.election == nil,
            logger: logger)
    }

    /// Where the operator's policy lives: the replicated store, else a file in the state directory.
    static func policyStorage(_ config: MasterConfig) -> (any PolicyStorage)? {
        config.store.map { StoredPolicy(store: $0) } ?? config.stateDir.map { PolicyFile(path: $0 + "/master-policy.json") }
    }

    /// `pacer master backup`: the operator's policy (roles' weights, quotas, reservations) as JSON.
    public static func backupPolicy(_ config: MasterConfig) async throws -> Data {
        let policy = try await policyStorage(config)?.load() ?? ResourcePolicy()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(policy)
    }

    /// `pacer master restore`: writes a backed-up policy where the masters read it at their start.
    /// Only where none is set yet (stop the masters first: a running leader keeps its own copy).
    public static func restorePolicy(_ data: Data, _ config: MasterConfig) async throws {
        let policy: ResourcePolicy
        do { policy = try JSONDecoder().decode(ResourcePolicy.self, from: data) } catch {
            throw PolicyFileError(message: "not a master policy backup: \(error)")
        }
        guard let storage = policyStorage(config) else { throw PolicyFileError(message: "no state directory or store given") }
        if let dir = config.stateDir { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        guard try await storage.load() == ResourcePolicy() else {
            throw PolicyFileError(message: "a policy is already set there; restore only where none is (or clear it first)")
        }
        try await storage.save(policy)
    }

    public func run() async throws {
        let app = Application(
            router: MasterRoutes.router(master, guards: config.guards, scheme: config.tls == nil ? "http" : "https"),
            server: config.tls?.server ?? .http1(),
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "pacer-master"),
            logger: logger)
        logger.info("master listening", metadata: ["address": "\(config.host):\(config.port)"])
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await app.run() }
            group.addTask { await deliver() }
            if let election = config.election {
                group.addTask {
                    _ = try await untilShutdown { try await campaign(election) }
                    await election.resign()  // stopping on purpose: another master may lead at once
                }
            }
            group.addTask { await cancelWhenGracefulShutdown { await every(config.tick) { await master.tick() } } }
            group.addTask { await cancelWhenGracefulShutdown { await trimmingTheHeap() } }
            group.addTask {
                await cancelWhenGracefulShutdown {
                    await every(config.settings.statsPeriod) { await master.sample() }
                }
            }
            group.addTask {
                // Subscription streams never end by themselves; the server waits for them on shutdown.
                try? await gracefulShutdown()
                await master.closeStreams()
            }
        }
    }

    /// Waits for leadership (following meanwhile), takes over, then renews at a third of the lease;
    /// a missed renewal ends the process (crash-only): a deposed master must not act.
    func campaign(_ election: LeaderElection) async throws {
        let me = "\(config.host):\(config.port)"
        let won = try await election.campaignUntilElected(as: me) { [master] in await master.follow($0) }
        if let etcd = config.store as? EtcdStore { await etcd.setFence(won.fence) }
        try await master.takeOver(as: me)
        do { try await election.keepLeading() } catch is LeadershipLost { exitDeposed(logger, "master") }
    }

    /// Delivers master → agent messages in order per agent, agents in parallel.
    func deliver() async {
        let client = AgentClient(credentials: config.agentSecret.map { "master:" + $0 })
        await withDiscardingTaskGroup { group in
            var queues: [String: AsyncStream<AgentDelivery>.Continuation] = [:]
            for await d in master.deliveries {
                if queues[d.agentId] == nil {
                    let (stream, continuation) = AsyncStream.makeStream(of: AgentDelivery.self)
                    queues[d.agentId] = continuation
                    group.addTask {
                        for await item in stream { await send(item, client) }
                    }
                }
                queues[d.agentId]?.yield(d)
            }
            for q in queues.values { q.finish() }
        }
    }

    func send(_ d: AgentDelivery, _ client: AgentClient) async {
        guard await !master.stopping else { return }
        do {
            try await client.send(d.message, to: d.url)
        } catch let error where error.neverSent {
            logger.warning("agent unreachable", metadata: ["agent.id": "\(d.agentId)", "error": "\(error)"])
            if let launch = d.message.launch {
                await master.onLaunchUndeliverable(agentId: d.agentId, taskIds: launch.tasks.map(\.taskId), reason: "\(error)")
            }
        } catch {
            // Sent, then timed out or broke: it may have arrived, so "unreachable" would mislead.
            guard let launch = d.message.launch else {
                logger.warning(
                    "message to the agent unconfirmed: it may have arrived",
                    metadata: ["agent.id": "\(d.agentId)", "error": "\(error)"])
                return
            }
            // Reporting the tasks dropped would have the framework launch them again beside running
            // copies. They stay staging; the agent's updates, or the framework's launch timeout (it
            // reconciles, then kills: an agent without the task answers TASK_LOST), settle them.
            logger.warning(
                "LAUNCH unconfirmed: the agent may have it; its tasks stay staging",
                metadata: ["agent.id": "\(d.agentId)", "tasks": "\(launch.tasks.count)", "error": "\(error)"])
            await master.onLaunchUnconfirmed()
        }
    }
}
