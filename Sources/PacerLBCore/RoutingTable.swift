import Foundation
import PacerModel

public struct Backend: Hashable, Sendable {
    public var host: String
    public var port: Int
    public var taskId: String
    public init(host: String, port: Int, taskId: String) { self.host = host; self.port = port; self.taskId = taskId }
}

public enum BalanceAlgorithm: String, Sendable { case roundRobin = "roundrobin", leastConnections = "leastconn", source }

/// One app port with a service port: where clients connect, and the tasks behind it.
public struct ServiceRoute: Sendable, Equatable {
    public var appId: String
    public var portIndex: Int
    public var servicePort: Int
    public var mode: Mode
    public var balance: BalanceAlgorithm
    public var backends: [Backend]
    public var vhosts: [String]

    public enum Mode: String, Sendable { case tcp, http }
}

/// An immutable snapshot of where traffic goes. Built off the data path and handed to the workers
/// whole, so a worker never sees half an update and never takes a lock to read it.
public struct RoutingTable: Sendable, Equatable {
    public var services: [Int: ServiceRoute]
    public init(services: [Int: ServiceRoute] = [:]) { self.services = services }

    /// Routes from the framework's `/v2/apps?embed=apps.tasks`, following marathon-lb's labels.
    public static func build(apps: [AppStatus], group: String?) -> RoutingTable {
        var services: [Int: ServiceRoute] = [:]
        for status in apps.sorted(by: { $0.app.id < $1.app.id }) {
            let app = status.app
            if let group, app.labels["HAPROXY_GROUP"] != group { continue }
            let tasks = (status.tasks ?? []).filter { isEligible($0, app) }
            for (index, def) in app.portDefinitions.enumerated() where def.port > 0 {
                func label(_ name: String) -> String? { app.labels["HAPROXY_\(index)_\(name)"] }
                let backends = tasks.compactMap { t -> Backend? in
                    guard index < t.ports.count else { return nil }
                    return Backend(host: t.host, port: t.ports[index], taskId: t.id)
                }.sorted { ($0.host, $0.port) < ($1.host, $1.port) }
                services[def.port] = ServiceRoute(
                    appId: app.id.description, portIndex: index, servicePort: def.port,
                    mode: label("MODE").flatMap(ServiceRoute.Mode.init(rawValue:)) ?? .tcp,
                    balance: label("BALANCE").flatMap(BalanceAlgorithm.init(rawValue:)) ?? .roundRobin,
                    backends: backends,
                    vhosts: (label("VHOST") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                        .filter { !$0.isEmpty })
            }
        }
        return RoutingTable(services: services)
    }

    /// A task receives traffic only while it runs and every health check passes (apps without
    /// checks: running). A task with no verdict yet (checks not run) receives nothing.
    public static func isEligible(_ t: MarathonTask, _ app: AppDefinition) -> Bool {
        guard t.state == TaskState.running.rawValue else { return false }
        if app.healthChecks.isEmpty { return true }
        return t.healthCheckResults.count == app.healthChecks.count && t.healthCheckResults.allSatisfy(\.alive)
    }
}
