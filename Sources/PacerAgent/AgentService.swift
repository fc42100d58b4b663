import Foundation
import Hummingbird
import Logging
import PacerAgentCore
import PacerClient
import PacerModel
import PacerServerKit
import ServiceLifecycle
import Synchronization

public struct AgentConfig: Sendable {
    public var host = "127.0.0.1"
    public var port = 5051
    public var hostname = "127.0.0.1"
    public var masterURLs = ["http://127.0.0.1:5050"]
    public var workDir = ".pacer/agent-5051"
    public var resources = AgentConfig.detectedResources()
    public var attributes: [String: String] = [:]
    /// Static reservations: role → resources.
    public var reserved: [String: Resources] = [:]
    public var settings = AgentSettings()
    public var isolation = IsolationSettings()
    public var heartbeat: Duration = .seconds(1)
    public var tick: Duration = .milliseconds(250)
    /// Stop every task when the agent stops (what `pacer up` users expect of Ctrl-C).
    public var killTasksOnShutdown = false
    /// Sandboxes of ended tasks kept for their logs: at most this many, none older than this.
    public var sandboxKeep = 100
    public var sandboxMaxAge: Double = 7 * 24 * 3600
    /// The cluster's agent secret: sent to the master when registering (`agent:SECRET`), and
    /// required of whoever sends messages or reads files (nil: no authentication).
    public var agentSecret: String?
    /// HTTPS for the API (nil: plain HTTP).
    public var tls: ServerTLS?
    /// Follows the masters' leader election (calls its argument with the leader's "host:port" at
    /// the start and on every change), so a new leader is found at once instead of at the next
    /// failed heartbeat. Nil: heartbeats alone.
    public var masterElection: (@Sendable (@escaping @Sendable (String?) async -> Void) async -> Void)?
    public init() {}

    /// This machine's cpus and memory (less what the system needs), disk under the work dir, ports 31000–32000.
    public static func detectedResources() -> Resources {
        let memMiB = Double(ProcessInfo.processInfo.physicalMemory) / 1_048_576
        return Resources(
            cpus: Double(ProcessInfo.processInfo.activeProcessorCount),
            mem: (memMiB - min(1024, memMiB / 2)).rounded(.down),
            disk: 10_240, ports: [PortRange(31000, 32000)])
    }
}

/// An agent as a long-running service: its API for the master, registration and heartbeats,
/// ticks, and an ordered sender of status updates.
public struct AgentService: Service {
    public let agent: Agent
    let config: AgentConfig
    let logger: Logger

    public init(config: AgentConfig, logger: Logger = Logger(label: "pacer.agent")) throws {
        self.config = config
        self.logger = logger
        let info = AgentInfo(
            id: "agent-\(config.hostname)-\(config.port)-" + UUID().uuidString.prefix(8).lowercased(),
            hostname: config.hostname, url: "\(config.tls == nil ? "http" : "https")://\(config.host):\(config.port)",
            resources: config.resources, attributes: config.attributes,
            reserved: config.reserved.isEmpty ? nil : config.reserved)
        agent = try Agent(
            info: info, workDir: config.workDir, settings: config.settings, isolation: config.isolation,
            logger: logger)
        if !config.isolation.cgroups {
            logger.warning("--isolation none: tasks run without CPU or memory limits", metadata: ["agent.id": "\(info.id)"])
        }
    }

    public func run() async throws {
        try await agent.recover()
        let router = Router()
        router.add(middleware: ClusterSecretsMiddleware(AgentSecret.guards(config.agentSecret)))
        router.add(middleware: APIErrorMiddleware())
        router.get("/health") { _, _ in JSONResponse.text("ok") }
        OpenAPIDocument.serve(.agent, on: router)
        router.get("/state") { [agent] _, _ in try JSONResponse.make(await agent.tasks(), encoder: WireJSON.masterEncoder()) }
        router.get("/monitor/statistics") { [agent] _, _ in
            try JSONResponse.make(
                TaskStatistics.mesos(await agent.usage(), now: Agent.now.secondsSince1970), encoder: WireJSON.masterEncoder())
        }
        router.get("/metrics") { [agent] _, _ in
            JSONResponse.text(TaskStatistics.prometheus(await agent.usage()) + ProcessMetrics.text())
        }
        SandboxFiles.serve(SandboxFiles(root: config.workDir + "/sandboxes"), on: router)
        router.post("/api/v1") { [agent] request, _ in
            let message = try JSONBody.decode(
                AgentMessage.self, from: try await BodyReader.json(request, limit: 64 << 20),
                decoder: WireJSON.masterDecoder())
            await agent.handle(message)
            return Response(status: .ok)
        }
        let app = Application(
            router: router, server: config.tls?.server ?? .http1(),
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "pacer-agent"),
            logger: logger)
        let masters = config.masterURLs.map { url in
            config.agentSecret.map { URLCredentials.embed("agent:" + $0, in: url) } ?? url
        }.map {
            MasterClient(baseURL: $0, transport: HTTPTransport(client: HTTPTransport.cluster, timeout: .seconds(5)))
        }
        let monitor = HealthMonitor(
            host: config.hostname, launcher: agent.launcher,
            report: { [agent] taskId, trackers in
                await agent.healthChanged(taskId, trackers)
            }, ready: { [agent] taskId in await agent.ready(taskId) })
        await agent.attach(health: monitor.control)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await app.run() }
            group.addTask { await cancelWhenGracefulShutdown { await monitor.run() } }
            let announced = Announcement()
            if let follow = config.masterElection {
                group.addTask { await cancelWhenGracefulShutdown { await follow { announced.post($0) } } }
            }
            group.addTask { await cancelWhenGracefulShutdown { await registerLoop(masters, announced: announced) } }
            group.addTask { await sendLoop(masters) }
            group.addTask { await cancelWhenGracefulShutdown { await every(config.tick) { await agent.tick() } } }
            group.addTask {
                let collector = SandboxCollector(keep: config.sandboxKeep, maxAge: config.sandboxMaxAge)
                await cancelWhenGracefulShutdown {
                    await every(.seconds(30)) {
                        let live = Set(await agent.tasks().map(\.info.taskId))
                        // File ages are wall-clock times, so they are measured against the wall clock.
                        collector.collect(
                            root: config.workDir + "/sandboxes", live: live, now: Date().timeIntervalSince1970, logger: logger)
                    }
                }
            }
            group.addTask {
                try? await gracefulShutdown()
                // A standalone agent leaves tasks running across its restart; `pacer up` stops them.
                if config.killTasksOnShutdown { await agent.killAll(grace: config.settings.defaultKillGrace) }
                agent.launcher.cgroups?.removeAgentGroup()
                await agent.finishOutbox()
                monitor.control.finish()
            }
        }
    }

    /// Registers with whichever master answers, then heartbeats; a 404 means "register again".
    /// When to call which master, and what, is `MasterSession`'s decision.
    /// `announced`: a leader the election named and this loop has not acted on yet.
    private func registerLoop(_ masters: [MasterClient], announced: Announcement) async {
        var session = MasterSession()
        var interval = config.heartbeat
        // Calls in a row that did not register or heartbeat: a streak of them is worth a warning
        // (once), since a lone failure is what every failover looks like.
        var misses = 0
        func missed(_ message: Logger.Message, _ metadata: Logger.Metadata) {
            misses += 1
            if misses == 3 { logger.warning(message, metadata: metadata) }
        }
        while !Task.isCancelled {
            if let leader = announced.take() {
                let named = MasterClient.index(ofLeader: leader, in: masters)
                let registered = await agent.registered
                if named != session.master % masters.count || !registered {
                    if registered {
                        logger.info("the masters elected a leader; registering with it", metadata: ["leader": "\(leader)"])
                    }
                    session.reset(master: named ?? session.master + 1)
                    await agent.setRegistered(false)
                }
            }
            // An update answered 404 (`sendLoop`): the master no longer knows this agent.
            if session.registered, await !agent.registered { session.reset(master: session.master) }
            let master = masters[session.master % masters.count]
            let outcome: MasterSession.Outcome
            do {
                let answer = try await master.agentCall(
                    session.call == .heartbeat
                        ? .heartbeat(agent.agentInfo.id, usage: await agent.cpuRates()) : await agent.registration())
                if let s = answer.heartbeatIntervalSeconds { interval = .milliseconds(Int64(s * 1000)) }
                // Redirected by a follower: the master that answered is the one to heartbeat.
                if let by = answer.answeredBy, let index = MasterClient.index(ofLeader: by, in: masters) {
                    session.answered(by: index)
                }
                outcome = .answered(status: answer.status)
                if answer.status == 200 {
                    if !session.registered { logger.info("registered with master", metadata: ["master": "\(master.displayURL)"]) }
                    misses = 0
                } else if session.call == .register {
                    missed(
                        "the master keeps refusing this agent's registration; retrying",
                        ["master": "\(master.displayURL)", "status": "\(answer.status)"])
                }
            } catch {
                missed(
                    "no master answered three calls in a row; retrying",
                    ["master": "\(master.displayURL)", "error": "\(error)"])
                logger.debug("master did not answer", metadata: ["master": "\(master.displayURL)", "error": "\(error)"])
                outcome = error.noLeaderActed ? .elsewhere : .timedOut
            }
            let next = session.after(outcome, interval: interval, jitter: Double.random(in: 0...1))
            await agent.setRegistered(session.registered)
            // Cut short when the election names a leader (checked every 100 ms: one agent, a few
            // wake-ups a second).
            let until = ContinuousClock.now + next.after
            while ContinuousClock.now < until, !Task.isCancelled, !announced.pending {
                try? await Task.sleep(for: min(.milliseconds(100), until - ContinuousClock.now))
            }
        }
    }

    /// Sends status updates in order. A failure is not retried here: the core resends what is
    /// still unacknowledged on its own schedule.
    private func sendLoop(_ masters: [MasterClient]) async {
        for await _ in agent.rings {
            let batch = await agent.flush()
            if batch.isEmpty { continue }
            var sent = false
            for master in masters where !sent {
                if let answer = try? await master.agentCall(.update(await agent.agentInfo.id, batch)) {
                    sent = true
                    if answer.status == 404 { await agent.setRegistered(false) }
                }
            }
        }
    }
}

/// The leader the masters' election named last, until the register loop takes it. "No one leads"
/// is not posted: it asks nothing of an agent (its heartbeats find out), the next leader does.
private final class Announcement: Sendable {
    private let leader = Mutex<String?>(nil)
    func post(_ value: String?) { if let value { leader.withLock { $0 = value } } }
    func take() -> String? {
        leader.withLock { l in
            defer { l = nil }
            return l
        }
    }
    var pending: Bool { leader.withLock { $0 != nil } }
}
