import Foundation
import Hummingbird
import Logging
import PacerAppsCore
import PacerClient
import PacerConsole
import PacerModel
import PacerServerKit
import PacerStore
import ServiceLifecycle
import Synchronization

public struct FrameworkConfig: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var masterURLs = ["http://127.0.0.1:5050"]
    public var settings = AppsSettings()
    public var tick: Duration = .milliseconds(500)
    /// The stream is declared dead after this many silent heartbeat intervals.
    public var missedHeartbeats = 3.0
    /// Comment lines on `/v2/events` this often, so idle subscribers and dead peers are told apart.
    public var eventKeepAlive: Duration = .seconds(5)
    public var events = EventBusLimits()
    /// Replicas elect a leader through this (with an etcd store); nil: this process always leads.
    public var election: LeaderElection?
    /// How often a follower reads what changed into its warm copy of the state (`WarmStandby`); a
    /// record changed several times meanwhile is read and decoded once.
    public var warmInterval: Duration = .seconds(5)
    /// The state store's address, for `/v2/info` (`zookeeper_config.zk`).
    public var storeDescription = "sqlite"
    /// API requests handled at once; more are answered 503 at once (Marathon's `--http_max_concurrent_requests`).
    public var requestLimit = FrameworkConfig.defaultRequestLimit
    /// Who may call the API, and as what (`--principals`, `--http-credentials`); nil: anyone, as
    /// Marathon without credentials (loopback only, unless `--insecure`).
    public var authenticator: Authenticator?
    /// The cluster's agent secret, for reading task files from agents that require it.
    public var agentSecret: String?
    /// Hosts event-subscription callbacks may go to (`host`, `*.domain`, `a.b.c.d/n`); empty: any
    /// but link-local ones.
    public var eventCallbackAllow: [String] = []
    /// HTTPS for the API (nil: plain HTTP).
    public var tls: ServerTLS?
    /// Browser origins allowed cross-origin access (CORS); empty: none.
    public var corsOrigins: [String] = []
    /// Load balancers' admin addresses the console's Traffic page reads (`/stats`).
    public var consoleLoadBalancers: [String] = []
    public static let defaultRequestLimit = 500
    public init() {}
}

/// The app framework as a long-running service: the Marathon API, the master subscription and ticks.
public struct FrameworkService: Service {
    let config: FrameworkConfig
    let store: any StateStore
    let logger: Logger

    public init(config: FrameworkConfig, store: any StateStore, logger: Logger = Logger(label: "pacer.framework")) {
        self.config = config
        self.store = store
        self.logger = logger
    }

    public func run() async throws {
        let address = "\(config.host):\(config.port)"
        let gate = RoleResponder(
            config.election.map {
                FollowerRoutes.router(
                    election: $0, me: address, requestLimit: config.requestLimit, authenticator: config.authenticator,
                    scheme: config.tls == nil ? "http" : "https", corsOrigins: config.corsOrigins
                ).buildResponder()
            })
        let app = Application(
            responder: gate, server: config.tls?.server ?? .http1(),
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "pacer"),
            logger: logger)
        logger.info(
            "framework API listening",
            metadata: ["address": "\(address)", "role": "\(config.election == nil ? "leader" : "follower")"])
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await app.run() }
            group.addTask { await cancelWhenGracefulShutdown { await trimmingTheHeap() } }
            group.addTask {
                guard let election = config.election else { return try await lead(gate, epoch: nil, abdicate: nil) }
                // While following, a copy of the state is kept warm (etcd only: one SQLite file has
                // no followers), so that once elected the records need not be read again.
                let warm = (store as? EtcdStore).map(WarmStandby.init)
                let warming = Task<Void, Never> { await warm?.keepWarm(every: config.warmInterval) }
                // A follower asked to stop just stops campaigning.
                let won = try await untilShutdown({ try await election.campaignUntilElected(as: address) })
                guard let won else {
                    warming.cancel()
                    return
                }
                if let etcd = store as? EtcdStore { await etcd.setFence(won.fence) }
                logger.info("elected leader", metadata: ["fence.revision": "\(won.fence.createRevision)"])
                try await withThrowingDiscardingTaskGroup { inner in
                    inner.addTask {
                        try await lead(
                            gate, epoch: won.fence.createRevision, abdicate: { await election.resign() },
                            warm: warm.map { WarmTakeover(copy: $0, revision: won.fence.createRevision, keeper: warming) })
                    }
                    inner.addTask {
                        // Once the lease is not renewed in time (or after an abdication) the process
                        // stops: a deposed leader must not act. Crash-only, as Marathon does.
                        do { _ = try await untilShutdown { try await election.keepLeading() } } catch is LeadershipLost {
                            exitDeposed(logger, "framework")
                        }
                        // Stopping on purpose: give the lease up, so another replica leads at once.
                        await election.resign()
                    }
                }
            }
        }
    }

    /// Loads the state, puts the Marathon API in front, and runs the scheduler until shutdown.
    /// `warm`: a follower's warm copy, the revision it must have seen (the election's) and the task
    /// keeping it, stopped once the copy is taken.
    func lead(
        _ gate: RoleResponder, epoch: Int64?, abdicate: (@Sendable () async -> Void)?,
        warm: WarmTakeover? = nil
    ) async throws {
        let started = ContinuousClock.now
        do { try await StoreSchema.prepare(store, logger: logger) } catch {
            logger.critical("cannot lead over this store", metadata: ["error": "\(error)"])
            throw error
        }
        let bus = EventBus(limits: config.events)
        let preloaded = await warm?.take()
        let scheduler = try await Scheduler(
            repo: AppsRepository(store: store), settings: config.settings, bus: bus, logger: logger, preloaded: preloaded)
        await scheduler.loaded(StateLoad(seconds: (ContinuousClock.now - started).seconds, warm: preloaded != nil))
        let leader = "\(config.host):\(config.port)"
        let info = FrameworkInfoView(
            leader: leader, epoch: epoch, masters: config.masterURLs, port: config.port,
            settings: config.settings, store: config.storeDescription)
        let router = AppsRoutes.router(
            scheduler, info: info, abdicate: abdicate, lastEventId: { await bus.lastId }, requestLimit: config.requestLimit,
            authenticator: config.authenticator, agentSecret: config.agentSecret, corsOrigins: config.corsOrigins)
        EventRoutes.register(on: router, bus: bus) { names in await scheduler.loadBalancersChanged(names) }
        // The console reads this replica's own API (it leads: followers forward /ui/ here too).
        let selfHost = ["0.0.0.0", "::", ""].contains(config.host) ? "127.0.0.1" : config.host
        Console.register(
            on: router,
            sources: ConsoleSources(
                framework: "\(config.tls == nil ? "http" : "https")://\(selfHost):\(config.port)",
                masters: config.masterURLs.map { URLCredentials.split($0).url }, loadBalancers: config.consoleLoadBalancers))
        var callbackSettings = EventCallbacks.Settings()
        callbackSettings.policy = CallbackPolicy(allow: config.eventCallbackAllow)
        let callbacks = EventCallbacks(bus: bus, repo: AppsRepository(store: store), settings: callbackSettings, logger: logger)
        await callbacks.restore()
        EventRoutes.registerSubscriptions(on: router, callbacks: callbacks)
        gate.serve(router.buildResponder())
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await cancelWhenGracefulShutdown { await subscribeLoop(scheduler) } }
            group.addTask { await cancelWhenGracefulShutdown { await scheduler.processInbox() } }
            group.addTask { await cancelWhenGracefulShutdown { await every(config.tick) { await scheduler.tick() } } }
            group.addTask { await cancelWhenGracefulShutdown { await capacityLoop(scheduler) } }
            group.addTask { await cancelWhenGracefulShutdown { await every(config.eventKeepAlive) { await bus.keepAlive() } } }
            group.addTask {
                // Event streams never end by themselves; close them so the server can stop.
                try? await gracefulShutdown()
                await callbacks.stopAll()
                await bus.closeAll()
            }
        }
    }

    /// Subscribes to whichever master answers; a dead stream (no heartbeat) is dropped and renewed.
    private func subscribeLoop(_ scheduler: Scheduler) async {
        let masters = config.masterURLs.map { MasterClient(baseURL: $0, transport: HTTPTransport(client: HTTPTransport.cluster)) }
        var attempt = 0
        while !Task.isCancelled {
            let master = masters[attempt % masters.count]
            attempt += 1
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        scheduler.connecting()
                        let events = master.subscribe(await scheduler.frameworkInfo) { await scheduler.connected(to: $0) }
                        for try await batch in events {
                            scheduler.enqueue(batch)
                        }
                    }
                    group.addTask {
                        while true {
                            let (silent, limit) = scheduler.silence(missedHeartbeats: config.missedHeartbeats)
                            if silent > limit {
                                throw ClientError.transport(url: master.displayURL, "no event for \(Int(silent)) s")
                            }
                            try await Task.sleep(for: .milliseconds(500))
                        }
                    }
                    try await group.next()
                    group.cancelAll()
                }
            } catch {
                logger.warning("master subscription ended", metadata: ["master": "\(master.displayURL)", "error": "\(error)"])
            }
            await scheduler.disconnected()
            try? await Task.sleep(for: .milliseconds(250))  // then the next master: a failover is the usual cause
        }
    }

    /// Learns the size of the largest agent, for the "no agent could ever fit" check: quickly until
    /// the first agent is known, then every few seconds.
    private func capacityLoop(_ scheduler: Scheduler) async {
        let transport = HTTPTransport(timeout: .seconds(3))
        while !Task.isCancelled {
            let known = await scheduler.largestAgent != nil
            for url in config.masterURLs {
                if let r = try? await transport.expectOK(.GET, url + "/state-summary"),
                    let state = try? WireJSON.masterDecoder().decode(ClusterState.self, from: r.body)
                {
                    await scheduler.setAgentURLs(
                        Dictionary(state.agents.map { ($0.id, $0.url) }, uniquingKeysWith: { a, _ in a }))
                    let agents = state.agents.map(\.resources)
                    await scheduler.setLargestAgent(
                        agents.isEmpty
                            ? nil
                            : Resources(
                                cpus: agents.map(\.cpus).max()!, mem: agents.map(\.mem).max()!, disk: agents.map(\.disk).max()!))
                    break
                }
            }
            try? await Task.sleep(for: known ? .seconds(15) : .milliseconds(500))
        }
    }
}

/// The one HTTP front of a replica: the follower's forwarding routes until it leads, then the
/// Marathon API. One listener for both, so becoming leader needs no port hand-over. The responder
/// is swapped once; a request reads it under a lock held for a pointer copy.
final class RoleResponder: HTTPResponder, Sendable {
    typealias Context = PacerRequestContext
    let current: Mutex<(any HTTPResponder<PacerRequestContext>)?>

    /// nil: nothing to serve until `serve` (a lone framework leads at once).
    init(_ initial: (any HTTPResponder<PacerRequestContext>)?) { current = Mutex(initial) }

    func serve(_ responder: any HTTPResponder<PacerRequestContext>) { current.withLock { $0 = responder } }

    func respond(to request: Request, context: PacerRequestContext) async throws -> Response {
        guard let responder = current.withLock({ $0 }) else {
            return JSONResponse.error(APIError(status: 503, message: "the framework is starting; retry in a second"))
        }
        return try await responder.respond(to: request, context: context)
    }
}
