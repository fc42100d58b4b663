#if canImport(Glibc)
import Glibc
#endif
import CLibevent
import Foundation
import Hummingbird
import Logging
import PacerLBCore
import PacerModel
import PacerServerKit
import ServiceLifecycle
import Synchronization

/// The load balancer as a long-running service: worker threads on libevent for the data path,
/// discovery and the admin endpoint on Swift concurrency.
public struct LBService: Service {
    let config: LBConfig
    let logger: Logger

    public init(config: LBConfig, logger: Logger = Logger(label: "pacer.lb")) {
        self.config = config; self.logger = logger
    }

    public func run() async throws {
        let count = config.workers > 0 ? config.workers : ProcessInfo.processInfo.activeProcessorCount
        raiseFileLimit(workers: count)
        let mailboxes = (0..<count).map { _ in WorkerMailbox() }
        for (i, mailbox) in mailboxes.enumerated() {
            let (config, logger) = (self.config, self.logger)
            let thread = Thread {
                // Each worker's libevent objects are made and used on its own thread only.
                Worker(settings: config, mailbox: mailbox, logger: logger).run()
                mailbox.slot.withLock { $0.finished = true }
            }
            thread.name = "pacer-lb-\(i)"
            thread.start()
        }
        let discovery = Discovery(config: config, logger: logger) { table in
            for m in mailboxes { m.post(table) }
        }
        let app = Application(router: adminRouter(discovery, mailboxes),
                              configuration: .init(address: .hostname(config.bind, port: config.adminPort), serverName: "pacer-lb"),
                              logger: logger)
        logger.info("load balancer running", metadata: ["workers": "\(count)", "admin": "\(config.bind):\(config.adminPort)"])
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await app.run() }
            group.addTask { await cancelWhenGracefulShutdown { await discovery.run() } }
            group.addTask {
                try? await gracefulShutdown()
                // Stop accepting, let open connections finish (bounded), then let the threads go.
                for m in mailboxes { m.stop() }
                let deadline = Date().addingTimeInterval(config.timeouts.idle)
                while mailboxes.contains(where: { !$0.slot.withLock { $0.finished } }) && Date() < deadline {
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
        }
    }

    func adminRouter(_ discovery: Discovery, _ mailboxes: [WorkerMailbox]) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: APIErrorMiddleware())
        router.get("/healthz") { _, _ in JSONResponse.text("ok") }
        router.get("/stats") { _, _ in
            let (table, status) = await discovery.snapshot()
            return try JSONResponse.make(LBStats(table: table, framework: status, mailboxes: mailboxes))
        }
        router.get("/metrics") { _, _ in
            let (table, status) = await discovery.snapshot()
            let stats = LBStats(table: table, framework: status, mailboxes: mailboxes)
            let text = MetricsText.render(
                services: stats.services.map {
                    MetricsText.Service(port: $0.port, app: $0.app, mode: $0.mode, backends: $0.backends.count, counters: $0.counters)
                },
                connections: (stats.connections.accepted, stats.connections.active, stats.connections.refused),
                frameworkConnected: status.connected)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: .init(string: text)))
        }
        return router
    }

    /// Each proxied connection holds two descriptors; `max_connections` is per worker.
    func raiseFileLimit(workers: Int) {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let wanted = rlim_t(config.limits.maxConnections * workers * 2 + 256)
        if limit.rlim_cur < wanted {
            limit.rlim_cur = min(wanted, limit.rlim_max)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        if limit.rlim_cur < wanted {
            logger.warning("descriptor limit below what max_connections needs", metadata: ["limit": "\(limit.rlim_cur)"])
        }
    }
}

/// `/stats`: the framework link, connection totals, and per service its backends and counters
/// (summed over the workers' latest published copies).
struct LBStats: Encodable {
    struct Connections: Encodable { var accepted, active, refused, connectFailures: Int }
    struct Service: Encodable {
        var port: Int
        var app, mode, balance: String
        var backends: [String]
        var counters: ServiceCounters
    }
    var framework: Discovery.Status
    var connections: Connections
    var services: [Service]

    init(table: RoutingTable, framework: Discovery.Status, mailboxes: [WorkerMailbox]) {
        let workers = mailboxes.map { $0.stats.withLock { $0 } }
        let perWorker = mailboxes.map { $0.services.withLock { $0 } }
        var totals: [Int: ServiceCounters] = [:]
        for counters in perWorker { totals.merge(counters, uniquingKeysWith: +) }
        self.framework = framework
        connections = Connections(accepted: workers.map(\.accepted).reduce(0, +), active: workers.map(\.active).reduce(0, +),
                                  refused: workers.map(\.refused).reduce(0, +),
                                  connectFailures: workers.map(\.connectFailures).reduce(0, +))
        services = table.services.values.sorted { $0.servicePort < $1.servicePort }.map {
            Service(port: $0.servicePort, app: $0.appId, mode: $0.mode.rawValue, balance: $0.balance.rawValue,
                    backends: $0.backends.map { "\($0.host):\($0.port)" }, counters: totals[$0.servicePort] ?? ServiceCounters())
        }
    }
}
