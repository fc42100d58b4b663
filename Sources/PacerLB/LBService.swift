import CLibevent
import CPacerSys
import Foundation
import Hummingbird
import Logging
import PacerClient
import PacerLBCore
import PacerModel
import PacerServerKit
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The load balancer as a long-running service: worker threads on libevent for the data path,
/// discovery and the admin endpoint on Swift concurrency.
public struct LBService: Service {
    let config: LBConfig
    let logger: Logger

    public init(config: LBConfig, logger: Logger = Logger(label: "pacer.lb")) {
        self.config = config
        self.logger = logger
    }

    public func run() async throws {
        let count = config.workers > 0 ? config.workers : ProcessInfo.processInfo.activeProcessorCount
        raiseFileLimit(workers: count)
        // Relay buffers are freed and taken again all the time: keep freed memory in the process
        // rather than handing it back to the kernel and faulting it in again (measured: 6% of CPU
        // in page faults and madvise with 1 MiB responses).
        pacer_malloc_keep(256 << 20, 4 << 20)
        if config.httpsPort > 0 { _ = try TLSContexts(config.certificates) }  // unusable certificates stop the start
        // Before the first request to a framework: the shared HTTPS client is made with this trust.
        if !config.frameworkCA.isEmpty { try ClientTLS.configure(ca: config.frameworkCA, certificate: nil, key: nil) }
        let adminTLS =
            config.adminTLSCert.isEmpty ? nil : try ServerTLS(certificate: config.adminTLSCert, key: config.adminTLSKey)
        if let adminTLS { TLSReloadSignal.install([adminTLS], logger: logger) }
        // Read once: the listener serves the files as they were at the start.
        let certificates = config.httpsPort > 0 ? try config.certificates.map(TLSContexts.expiry) : []
        // A load balancer already running here hands over its sockets and table: a restart
        // refuses no connection (F20).
        let inheritance = Handover.takeOver(config.handoverPath)
        if let inheritance {
            logger.info(
                "took over listening sockets from the running load balancer",
                metadata: ["ports": "\(inheritance.listeners.keys.sorted())"])
        }
        let mailboxes = (0..<count).map { _ in WorkerMailbox() }
        for (i, mailbox) in mailboxes.enumerated() {
            let (config, logger) = (self.config, self.logger)
            let share = (inheritance?.listeners ?? [:]).mapValues { fds in
                stride(from: i, to: fds.count, by: count).map { fds[$0] }
            }
            let thread = Thread {
                // Each worker's libevent objects are made and used on its own thread only.
                Worker(settings: config, mailbox: mailbox, logger: logger, inherited: share).run()
                mailbox.slot.withLock { $0.finished = true }
            }
            thread.name = "pacer-lb-\(i)"
            thread.start()
        }
        let latest = LatestTable(inheritance?.table ?? RoutingTable())
        if let table = inheritance?.table { for m in mailboxes { m.post(table) } }
        let discovery = Discovery(
            config: config, logger: logger, initial: inheritance?.table,
            publish: { table, version in
                guard latest.set(table) else { return }
                for m in mailboxes { m.post(table, version: version) }
            }, settled: { version, tasks in mailboxes.allSatisfy { $0.settled(version, tasks) } })
        let (successorArrived, successor) = AsyncStream.makeStream(of: Void.self)
        let handover = Handover.Server(
            path: config.handoverPath,
            handOver: {
                let table = latest.freeze()  // from now on the table stays what the successor got
                var listeners: [Int: [Int32]] = [:]
                for m in mailboxes { listeners.merge(m.listening.withLock { $0 }, uniquingKeysWith: +) }
                return (table, listeners)
            }, done: { successor.yield() })
        if handover == nil {
            logger.warning("no hand-over socket; a restart will not be hitless", metadata: ["path": "\(config.handoverPath)"])
        }
        logger.info("load balancer running", metadata: ["workers": "\(count)", "admin": "\(config.bind):\(config.adminPort)"])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.serveAdmin(discovery, mailboxes, certificates, adminTLS) }
            group.addTask { await cancelWhenGracefulShutdown { await discovery.run() } }
            // Until SIGTERM or a successor takes over; then stop accepting and let requests finish.
            await withTaskGroup(of: Void.self) { first in
                first.addTask { try? await gracefulShutdown() }
                first.addTask { for await _ in successorArrived { return } }
                await first.next()
                first.cancelAll()
            }
            handover?.close()
            for m in mailboxes { m.stop() }
            let deadline = Date().addingTimeInterval(config.timeouts.drain)
            while mailboxes.contains(where: { !$0.slot.withLock { $0.finished } }) && Date() < deadline {
                await Self.pause()
            }
            group.cancelAll()
        }
    }

    /// 50 ms, even in a cancelled task (draining must not turn into a busy loop).
    static func pause() async {
        await withCheckedContinuation { c in
            DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) { c.resume() }
        }
    }

    /// The admin endpoint; while a predecessor still holds the port (hand-over), binding is retried.
    private func serveAdmin(
        _ discovery: Discovery, _ mailboxes: [WorkerMailbox], _ certificates: [MetricsText.Certificate], _ tls: ServerTLS?
    ) async {
        while !Task.isCancelled {
            let app = Application(
                router: adminRouter(discovery, mailboxes, certificates), server: tls?.server ?? .http1(),
                configuration: .init(
                    address: .hostname(config.adminBind.isEmpty ? config.bind : config.adminBind, port: config.adminPort),
                    serverName: "pacer-lb"),
                logger: logger)
            do {
                try await app.run()
                return
            } catch {
                if Task.isCancelled { return }
                logger.debug("admin endpoint not up yet; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    private func adminRouter(
        _ discovery: Discovery, _ mailboxes: [WorkerMailbox], _ certificates: [MetricsText.Certificate]
    ) -> Router<BasicRequestContext> {
        let router = Router()
        if !config.adminToken.isEmpty {
            router.add(middleware: BearerTokenMiddleware(token: config.adminToken, open: ["/healthz"]))
        }
        router.add(middleware: APIErrorMiddleware())
        router.get("/healthz") { _, _ in JSONResponse.text("ok") }
        OpenAPIDocument.serve(.lb, on: router)
        router.get("/stats") { request, _ in
            // `?service=PORT`: one service only (a table of 50,000 backends is megabytes).
            var only: Int?
            if let service = request.uri.queryParameters.get("service") {
                guard let port = Int(service) else {
                    throw APIError.badRequest("service must be a port number, got '\(service.prefix(40))'")
                }
                only = port
            }
            let (table, status, version) = await discovery.snapshot()
            return try JSONResponse.make(
                LBStats(table: table, version: version, framework: status, mailboxes: mailboxes, only: only))
        }
        // marathon-lb's admin endpoints, for the deploy tools that call them.
        router.get("/_haproxy_getvhostmap") { _, _ in JSONResponse.text(MarathonLBViews.vhostMap(await discovery.snapshot().0)) }
        router.get("/_haproxy_getappmap") { _, _ in JSONResponse.text(MarathonLBViews.appMap(await discovery.snapshot().0)) }
        router.get("/_haproxy_getconfig") { _, _ in
            JSONResponse.text(
                MarathonLBViews.config(
                    await discovery.snapshot().0, httpPort: self.config.httpPort > 0 ? self.config.httpPort : nil,
                    bind: self.config.bind))
        }
        // SIGHUP and SIGUSR1 made marathon-lb re-read Marathon; here both resync from the framework
        // (no process restarts, no reload: the new table reaches the workers as any other).
        router.post("/_mlb_signal/:signal") { _, context in try await self.signal(context, discovery) }
        router.get("/_mlb_signal/:signal") { _, context in try await self.signal(context, discovery) }
        router.get("/metrics") { _, _ in
            let (table, status, version) = await discovery.snapshot()
            let stats = LBStats(table: table, version: version, framework: status, mailboxes: mailboxes)
            let skipped = await discovery.skippedCounts
            var text = MetricsText.render(
                services: stats.services.map {
                    MetricsText.Service(
                        port: $0.port, app: $0.app, mode: $0.mode, backends: $0.backends.count, counters: $0.counters)
                },
                connections: (stats.connections.accepted, stats.connections.active, stats.connections.refused),
                frameworkConnected: status.connected, certificates: certificates)
            var extra = PrometheusText()
            extra.family(
                "pacer_lb_discovery_skipped_total", "counter", "Apps, tasks and events from the framework the LB could not use.",
                [
                    ([("kind", "app")], "\(skipped.apps)"), ([("kind", "task")], "\(skipped.tasks)"),
                    ([("kind", "event")], "\(skipped.events)")
                ])
            extra.family("pacer_lb_table_version", "gauge", "Version of the newest routing table.", [([], "\(version)")])
            text += extra.text + ProcessMetrics.text()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: .init(string: text)))
        }
        return router
    }

    func signal(_ context: BasicRequestContext, _ discovery: Discovery) async throws -> Response {
        let signal = try context.parameters.require("signal")
        guard signal == "hup" || signal == "usr1" else {
            throw APIError.notFound("unknown signal '\(signal)': hup or usr1")
        }
        await discovery.requestResync()
        return JSONResponse.text("Sent SIG\(signal.uppercased()) signal to marathon-lb (pacer lb resyncs from the framework)\n")
    }

    /// Each proxied connection holds two descriptors; `max_connections` is per worker.
    private func raiseFileLimit(workers: Int) {
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

/// The table the workers have now, for a successor; frozen once handed over.
final class LatestTable: Sendable {
    let slot: Mutex<(table: RoutingTable, frozen: Bool)>
    init(_ table: RoutingTable) { slot = Mutex((table, false)) }

    /// Records a new table; false once frozen (the successor owns the sockets then).
    func set(_ table: RoutingTable) -> Bool {
        slot.withLock { s in
            guard !s.frozen else { return false }
            s.table = table
            return true
        }
    }

    func freeze() -> RoutingTable {
        slot.withLock {
            $0.frozen = true
            return $0.table
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
    /// The newest routing table's version, and the oldest version a worker still runs: a change
    /// is in force everywhere once `workersVersion` reaches the version that brought it.
    var version: Int
    var workersVersion: Int
    var services: [Service]

    init(table: RoutingTable, version: Int, framework: Discovery.Status, mailboxes: [WorkerMailbox], only: Int? = nil) {
        let workers = mailboxes.map { $0.stats.withLock { $0 } }
        let perWorker = mailboxes.map { $0.services.withLock { $0 } }
        var totals: [Int: ServiceCounters] = [:]
        for counters in perWorker { totals.merge(counters, uniquingKeysWith: +) }
        self.framework = framework
        self.version = version
        workersVersion = mailboxes.map { $0.applied.withLock { $0.version } }.min() ?? version
        connections = Connections(
            accepted: workers.map(\.accepted).reduce(0, +), active: workers.map(\.active).reduce(0, +),
            refused: workers.map(\.refused).reduce(0, +),
            connectFailures: workers.map(\.connectFailures).reduce(0, +))
        services = table.services.values.filter { only == nil || $0.servicePort == only }.sorted {
            $0.servicePort < $1.servicePort
        }.map {
            Service(
                port: $0.servicePort, app: $0.appId, mode: $0.mode.rawValue, balance: $0.balance.rawValue,
                backends: $0.backends.map { "\($0.host):\($0.port)" }, counters: totals[$0.servicePort] ?? ServiceCounters())
        }
    }
}
