import Foundation
import Logging
import PacerClient
import PacerLBCore
import PacerModel

/// Follows the framework: subscribes to `/v2/events`, takes a snapshot of
/// `/v2/apps?embed=apps.tasks` once attached (so nothing falls between snapshot and stream) and
/// again after every burst of events. When no framework answers, the last table stays in force.
actor Discovery {
    struct Status: Codable, Sendable {
        var framework: String?
        var connected: Bool
        var lastSync: String?
        var syncs: Int
    }
    let config: LBConfig
    let logger: Logger
    let publish: @Sendable (RoutingTable, Int) -> Void
    /// Whether every worker runs table `version` and has nothing open with these tasks.
    let settled: @Sendable (Int, Set<String>) -> Bool
    var table = RoutingTable()
    var version = 0
    /// Draining tasks already acknowledged to the framework (forgotten once they are gone).
    var acknowledged: Set<String> = []
    /// Longest wait for requests in flight to a draining task before acknowledging anyway.
    let drainWait: Double = 5
    var status = Status(framework: nil, connected: false, lastSync: nil, syncs: 0)
    var lastActivity = Date()
    /// Seconds without an event or keep-alive before the stream counts as dead.
    let silenceLimit: Double = 15

    init(config: LBConfig, logger: Logger, initial: RoutingTable? = nil, publish: @escaping @Sendable (RoutingTable, Int) -> Void,
         settled: @escaping @Sendable (Int, Set<String>) -> Bool) {
        self.config = config; self.logger = logger; self.publish = publish; self.settled = settled
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
                try await follow(MarathonClient(baseURL: url, transport: HTTPTransport(timeout: .seconds(5))))
            } catch {
                logger.warning("framework stream ended; serving the last known backends",
                               metadata: ["framework": "\(url)", "error": "\(error)"])
            }
            status.connected = false
            try? await Task.sleep(for: .seconds(1))
        }
    }

    func follow(_ client: MarathonClient) async throws {
        let (rings, doorbell) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        lastActivity = Date()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await event in client.events(keepAlives: true, loadBalancer: self.name) {
                    await self.touch()
                    if !event.event.isEmpty { doorbell.yield() }  // any event, the attach included
                }
                throw ClientError.transport(url: client.baseURL, "event stream closed")
            }
            group.addTask {
                for await _ in rings {
                    try await Task.sleep(for: .milliseconds(5))  // let a burst of events arrive, then sync once
                    try await self.sync(client)
                }
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: .seconds(1))
                    let silent = await self.silentFor()
                    if silent > self.silenceLimit {
                        throw ClientError.transport(url: client.baseURL, "no event or keep-alive for \(Int(silent)) s")
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    func touch() { lastActivity = Date() }
    func silentFor() -> Double { Date().timeIntervalSince(lastActivity) }

    func sync(_ client: MarathonClient) async throws {
        let apps = try await client.apps(embedTasks: true)
        var next = RoutingTable.build(apps: apps, group: config.group)
        if config.frameworkVIP > 0 { next.frameworks = await frameworkReplicas(client) }
        status = Status(framework: client.baseURL, connected: true, lastSync: Timestamp.string(Date()), syncs: status.syncs + 1)
        if next != table {
            table = next
            version += 1
            publish(next, version)
            logger.debug("routing updated", metadata: ["services": "\(next.services.count)"])
        }
        let draining = Set(apps.flatMap { $0.tasks ?? [] }.filter { $0.draining == true }.map(\.id))
        acknowledged.formIntersection(draining)
        let pending = draining.subtracting(acknowledged)
        if !pending.isEmpty {
            acknowledged.formUnion(pending)
            let (version, lb) = (self.version, name)
            Task { await self.acknowledge(pending, afterVersion: version, lb: lb, client) }
        }
    }

    /// Tells the framework these draining tasks are out of rotation here, once every worker runs
    /// a table without them and has finished its requests to them (bounded by `drainWait`).
    func acknowledge(_ tasks: Set<String>, afterVersion version: Int, lb: String, _ client: MarathonClient) async {
        let deadline = Date().addingTimeInterval(drainWait)
        while !settled(version, tasks) && Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        struct Drained: Encodable { var lb: String; var taskIds: [String] }
        let body = try? JSONEncoder().encode(Drained(lb: lb, taskIds: tasks.sorted()))
        do {
            _ = try await client.raw("POST", "/v2/tasks/drained", body: body, headers: [("Content-Type", "application/json")])
        } catch {
            // The framework's drain timeout covers a lost acknowledgement.
            logger.warning("could not acknowledge drained tasks", metadata: ["error": "\(error)"])
        }
    }

    func snapshot() -> (RoutingTable, Status, Int) { (table, status, version) }

    /// The configured replicas for the framework VIP, the leader first (then the one answering).
    func frameworkReplicas(_ client: MarathonClient) async -> [Backend] {
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
