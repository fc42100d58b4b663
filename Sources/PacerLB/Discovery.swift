import Foundation
import Logging
import PacerClient
import PacerLBCore
import PacerModel

/// Follows the framework: subscribes to `/v2/events`, takes a snapshot of
/// `/v2/apps?embed=apps.tasks` once attached, then applies each event to its model of apps and
/// tasks (an app whose definition changed is fetched alone), with a fresh snapshot every
/// `resyncInterval` as a safety net. Re-reading every app after each burst of events, as before,
/// cost seconds per burst at 50,000 tasks. When no framework answers, the last table stays in force.
actor Discovery {
    struct Status: Codable, Sendable {
        var framework: String?
        var connected: Bool
        var lastSync: String?
        var syncs: Int
    }
    /// What could not be used, for `/metrics` (each kind logged once).
    struct Skipped: Sendable { var apps = 0, tasks = 0, events = 0 }
    let config: LBConfig
    let logger: Logger
    let publish: @Sendable (RoutingTable, Int) -> Void
    /// Whether every worker runs table `version` and has nothing open with these tasks.
    let settled: @Sendable (Int, Set<String>) -> Bool
    var model: DiscoveryModel
    var table = RoutingTable()
    var version = 0
    /// Draining tasks already acknowledged to the framework (forgotten once they are gone).
    var acknowledged: Set<String> = []
    /// Longest wait for requests in flight to a draining task before acknowledging anyway.
    let drainWait: Double = 5
    var status = Status(framework: nil, connected: false, lastSync: nil, syncs: 0)
    var skipped = Skipped()
    var warned: Set<String> = []
    var lastActivity = Date()
    /// Seconds without an event or keep-alive before the stream counts as dead.
    let silenceLimit: Double = 15
    /// A full snapshot this often, whatever the events said.
    let resyncInterval: Double = 300
    var pending: [ServerSentEvent] = []
    var needSnapshot = true
    var lastSnapshot = Date.distantPast

    init(
        config: LBConfig, logger: Logger, initial: RoutingTable? = nil, publish: @escaping @Sendable (RoutingTable, Int) -> Void,
        settled: @escaping @Sendable (Int, Set<String>) -> Bool
    ) {
        self.config = config
        self.logger = logger
        self.publish = publish
        self.settled = settled
        model = DiscoveryModel(group: config.group)
        if let initial { table = initial }
    }

    /// The name this LB subscribes under.
    nonisolated var name: String {
        config.name.isEmpty ? "lb-\(ProcessInfo.processInfo.hostName)-\(config.adminPort)" : config.name
    }

    func run() async {
        var attempt = 0
        while !Task.isCancelled {
            let url = config.frameworks[attempt % config.frameworks.count]
            attempt += 1
            do {
                try await follow(MarathonClient(baseURL: url, transport: HTTPTransport(timeout: .seconds(30))))
            } catch {
                logger.warning(
                    "framework stream ended; serving the last known backends",
                    metadata: ["framework": "\(URLCredentials.split(url).url)", "error": "\(error)"])
            }
            status.connected = false
            try? await Task.sleep(for: .seconds(1))
        }
    }

    func follow(_ client: MarathonClient) async throws {
        let (rings, doorbell) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        lastActivity = Date()
        pending = []
        needSnapshot = true
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // Only what routing reads: at 50,000 tasks the other events are most of the stream.
                for try await event in client.events(types: Self.subscribed.sorted(), keepAlives: true, loadBalancer: self.name) {
                    await self.received(event)
                    if !event.event.isEmpty { doorbell.yield() }  // any event, the attach included
                }
                throw ClientError.transport(url: URLCredentials.split(client.baseURL).url, "event stream closed")
            }
            group.addTask {
                for await _ in rings {
                    try await Task.sleep(for: .milliseconds(5))  // let a burst of events arrive, then apply it at once
                    try await self.process(client)
                }
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: .seconds(1))
                    let silent = await self.silentFor()
                    if silent > self.silenceLimit {
                        throw ClientError.transport(
                            url: URLCredentials.split(client.baseURL).url, "no event or keep-alive for \(Int(silent)) s")
                    }
                    if await self.resyncDue() { doorbell.yield() }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    func received(_ event: ServerSentEvent) {
        lastActivity = Date()
        if event.event == "event_stream_attached" { needSnapshot = true } else if !event.event.isEmpty { pending.append(event) }
    }

    private func silentFor() -> Double { Date().timeIntervalSince(lastActivity) }
    private func resyncDue() -> Bool { Date().timeIntervalSince(lastSnapshot) > resyncInterval }

    /// A full snapshot within a second (marathon-lb's `/_mlb_signal/hup`).
    func requestResync() { lastSnapshot = .distantPast }

    /// Takes a snapshot when one is due, applies the events received since, fetches the apps
    /// they say changed, and publishes the table if it changed.
    func process(_ client: MarathonClient) async throws {
        if needSnapshot || resyncDue() {
            needSnapshot = false
            try await snapshot(client)
        }
        let batch = pending
        pending = []
        var refetch: Set<String> = []
        for e in batch {
            guard let event = DiscoveryEvent.parse(type: e.event, data: Data(e.data.utf8)) else {
                if Self.routingEvents.contains(e.event) {
                    skip("event", "an event without the fields routing needs", &skipped.events)
                }
                continue
            }
            refetch.formUnion(model.apply(event))
        }
        for id in refetch.sorted() { try await fetch(id, client) }
        status = Status(
            framework: URLCredentials.split(client.baseURL).url, connected: true, lastSync: Timestamp.string(Date()),
            syncs: status.syncs + 1)
        var next = model.table(updating: table)
        if config.frameworkVIP > 0 { next.frameworks = await frameworkReplicas(client) }
        if next != table {
            table = next
            version += 1
            publish(next, version)
            logger.debug("routing updated", metadata: ["services": "\(next.services.count)"])
        }
        acknowledgeDraining(client)
    }

    /// The event types the load balancer subscribes to.
    static let subscribed = routingEvents.union([
        "event_stream_attached", "deployment_info", "deployment_success", "deployment_failed",
        "deployment_step_success"
    ])

    /// Event types whose payload routing reads.
    static let routingEvents: Set<String> = [
        "status_update_event", "health_status_changed_event", "instance_draining_event",
        "instance_ready_event", "app_terminated_event", "api_post_event"
    ]

    /// Every app with its tasks. Events received before it was taken (Pacer says up to which
    /// event id, `X-Pacer-Event-Id`) are already in it and dropped.
    func snapshot(_ client: MarathonClient) async throws {
        let r = try await client.raw("GET", "/v2/apps?embed=apps.tasks&embed=pacer")
        guard r.status == 200 else { throw ClientError.http(status: r.status, nil, body: r.text) }
        let snapshot = try JSONDecoder().decode(AppsSnapshot.self, from: r.body)
        if snapshot.skippedApps > 0 { skip("app", "apps without an id", &skipped.apps, count: snapshot.skippedApps) }
        if snapshot.skippedTasks > 0 { skip("task", "tasks without an id or host", &skipped.tasks, count: snapshot.skippedTasks) }
        model.replaceAll(snapshot.apps)
        if let upTo = r.headers.first(where: { $0.0.lowercased() == "x-pacer-event-id" }).flatMap({ Int64($0.1) }) {
            pending.removeAll { ($0.id.flatMap { Int64($0) } ?? .max) <= upTo }
        }
        lastSnapshot = Date()
    }

    /// One app again (its definition changed, or an event named an app not known yet).
    func fetch(_ id: String, _ client: MarathonClient) async throws {
        let path = id.hasPrefix("/") ? id : "/" + id
        let r = try await client.raw("GET", "/v2/apps\(path)?embed=app.tasks&embed=pacer")
        if r.status == 404 { return model.replace(id, with: nil) }
        guard r.status == 200 else { throw ClientError.http(status: r.status, nil, body: r.text) }
        let answer = try? JSONDecoder().decode(AppAnswer.self, from: r.body)
        if let skippedTasks = answer?.skippedTasks, skippedTasks > 0 {
            skip("task", "tasks without an id or host", &skipped.tasks, count: skippedTasks)
        }
        guard let app = answer?.app else { return skip("app", "apps without an id", &skipped.apps) }
        model.replace(id, with: app)
    }

    /// Counts what could not be used; says so in the log the first time for each kind.
    func skip(_ kind: String, _ what: String, _ counter: inout Int, count: Int = 1) {
        counter += count
        if warned.insert(kind).inserted {
            logger.warning(
                "skipping \(what) from the framework (counted in pacer_lb_discovery_skipped_total)",
                metadata: ["kind": "\(kind)"])
        }
    }

    private func acknowledgeDraining(_ client: MarathonClient) {
        let draining = model.draining
        acknowledged.formIntersection(draining)
        let pending = draining.subtracting(acknowledged).union(model.takeRemoved())
        if !pending.isEmpty {
            acknowledged.formUnion(pending)
            let (version, lb) = (self.version, name)
            Task { await self.acknowledge(pending, afterVersion: version, lb: lb, client) }
        }
    }

    /// Tells the framework these draining (or removed) tasks are out of rotation here, once every worker runs
    /// a table without them and has finished its requests to them (bounded by `drainWait`).
    func acknowledge(_ tasks: Set<String>, afterVersion version: Int, lb: String, _ client: MarathonClient) async {
        let deadline = Date().addingTimeInterval(drainWait)
        while !settled(version, tasks) && Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        struct Drained: Encodable {
            var lb: String
            var taskIds: [String]
        }
        let body = try? JSONEncoder().encode(Drained(lb: lb, taskIds: tasks.sorted()))
        do {
            _ = try await client.raw("POST", "/v2/tasks/drained", body: body, headers: [("Content-Type", "application/json")])
        } catch {
            // The framework's drain timeout covers a lost acknowledgement.
            logger.warning("could not acknowledge drained tasks", metadata: ["error": "\(error)"])
        }
    }

    func snapshot() -> (RoutingTable, Status, Int) { (table, status, version) }
    var skippedCounts: Skipped { skipped }

    /// The configured replicas for the framework VIP, the leader first (then the one answering).
    private func frameworkReplicas(_ client: MarathonClient) async -> [Backend] {
        struct Leader: Decodable { var leader: String? }
        let leader = try? await client.raw("GET", "/v2/leader")
        let name = leader.flatMap { try? JSONDecoder().decode(Leader.self, from: $0.body).leader }
        let replicas = config.frameworks.compactMap { url -> Backend? in
            guard let u = URLComponents(string: url), let host = u.host else { return nil }
            return Backend(host: host == "localhost" ? "127.0.0.1" : host, port: u.port ?? 80, taskId: url)
        }
        func rank(_ b: Backend) -> Int {
            if let name, name == "\(b.host):\(b.port)" || name.hasSuffix(":\(b.port)") && b.host == "127.0.0.1" { return 0 }
            return b.taskId == client.baseURL ? 1 : 2
        }
        return replicas.enumerated().sorted { (rank($0.element), $0.offset) < (rank($1.element), $1.offset) }.map(\.element)
    }
}
