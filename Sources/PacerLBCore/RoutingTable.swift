import Foundation
import PacerModel

public struct Backend: Hashable, Sendable, Codable {
    public var host: String
    public var port: Int
    public var taskId: String
    public init(host: String, port: Int, taskId: String) {
        self.host = host
        self.port = port
        self.taskId = taskId
    }

    /// Hashes host and port, not the task id: enough to tell live backends apart. (The port alone
    /// was cheaper, but agents share port ranges: 50,000 tasks on 2,000 agents fell into 1,000
    /// buckets, and building one set of them took most of a second.)
    public func hash(into hasher: inout Hasher) {
        hasher.combine(port)
        hasher.combine(host)
    }

    /// The sticky-cookie value naming this backend: a stable hash of the task id (FNV-1a), in hex,
    /// so the cookie does not reveal addresses.
    public var stickyId: String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in taskId.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(h, radix: 16)
    }
}

public enum BalanceAlgorithm: String, Sendable, Codable {
    case roundRobin = "roundrobin"
    case leastConnections = "leastconn"
    case source
}

/// One app port with a service port: where clients connect, and the tasks behind it.
public struct ServiceRoute: Sendable, Equatable, Codable {
    public var appId: String
    public var portIndex: Int
    public var servicePort: Int
    public var mode: Mode
    public var balance: BalanceAlgorithm
    public var backends: [Backend]
    public var vhosts: [String]
    /// `HAPROXY_{n}_PATH`: on the shared vhost listeners, only requests under this prefix.
    public var path: String?
    /// `HAPROXY_{n}_STICKY`: a cookie keeps a client on one backend while it stays in rotation.
    public var sticky: Bool
    /// `HAPROXY_{n}_WEBSOCKET`: WebSocket upgrades are passed through only where enabled (B24).
    public var websocket: Bool
    /// `HAPROXY_{n}_REDIRECT_TO_HTTPS`: plain-HTTP vhost requests are redirected (301) to HTTPS.
    public var redirectToHTTPS: Bool

    public enum Mode: String, Sendable, Codable { case tcp, http }

    public init(
        appId: String, portIndex: Int, servicePort: Int, mode: Mode, balance: BalanceAlgorithm, backends: [Backend],
        vhosts: [String] = [], path: String? = nil, sticky: Bool = false, websocket: Bool = false,
        redirectToHTTPS: Bool = false
    ) {
        self.appId = appId
        self.portIndex = portIndex
        self.servicePort = servicePort
        self.mode = mode
        self.balance = balance
        self.backends = backends
        self.vhosts = vhosts
        self.path = path
        self.sticky = sticky
        self.websocket = websocket
        self.redirectToHTTPS = redirectToHTTPS
    }
}

/// A virtual host's route on the shared HTTP/HTTPS listeners: requests under `path` go to the
/// service on `servicePort`.
public struct VirtualHostRoute: Sendable, Equatable, Codable {
    public var path: String
    public var servicePort: Int
}

/// An immutable snapshot of where traffic goes. Built off the data path and handed to the workers
/// whole, so a worker never sees half an update and never takes a lock to read it.
public struct RoutingTable: Sendable, Equatable, Codable {
    public var services: [Int: ServiceRoute]
    /// Host (lowercase, no port, no trailing dot) → routes, longest path first.
    public var virtualHosts: [String: [VirtualHostRoute]]
    /// The framework replicas behind the framework VIP, the leader first.
    public var frameworks: [Backend] = []

    public init(services: [Int: ServiceRoute] = [:]) {
        self.services = services
        var hosts: [String: [VirtualHostRoute]] = [:]
        for service in services.values {
            for host in service.vhosts {
                hosts[host, default: []].append(VirtualHostRoute(path: service.path ?? "/", servicePort: service.servicePort))
            }
        }
        virtualHosts = hosts.mapValues {
            $0.sorted { ($0.path.utf8.count, $1.servicePort) > ($1.path.utf8.count, $0.servicePort) }
        }
    }

    /// Service ports added, removed or changed between two tables. Unchanged services share their
    /// backend arrays (discovery rebuilds only changed apps), so each comparison is quick.
    public static func changedPorts(from old: RoutingTable, to new: RoutingTable) -> [Int] {
        var ports = old.services.compactMap { port, s in new.services[port] == s ? nil : port }
        for port in new.services.keys where old.services[port] == nil { ports.append(port) }
        return ports
    }

    /// The service for a request to `host` (already normalized) with the given target path.
    public func virtualHost(_ host: String, target: UnsafeRawBufferPointer) -> Int? {
        guard let routes = virtualHosts[host] else { return nil }
        for route in routes where route.path.utf8.count <= target.count {
            if route.path.utf8.elementsEqual(target.prefix(route.path.utf8.count)) { return route.servicePort }
        }
        return nil
    }

    /// Routes from the framework's apps, following marathon-lb's labels.
    public static func build(apps: [RoutedApp], group: String?) -> RoutingTable {
        var services: [Int: ServiceRoute] = [:]
        for app in apps.sorted(by: { $0.id < $1.id }) {
            for route in routes(for: app, group: group) { services[route.servicePort] = route }
        }
        return RoutingTable(services: services)
    }

    /// One app's routes: a service per port with a service port, backed by its eligible tasks
    /// (`RoutedTask.eligible`); none for an app outside the load balancer's group.
    public static func routes(for app: RoutedApp, group: String?) -> [ServiceRoute] {
        if let group, app.labels["HAPROXY_GROUP"] != group { return [] }
        let tasks = app.tasks.values.filter { $0.eligible(checks: app.healthChecks) }
        return app.servicePorts.enumerated().filter { $0.element > 0 }.map { index, port in
            func label(_ name: String) -> String? { app.labels["HAPROXY_\(index)_\(name)"] }
            let backends = tasks.compactMap { t -> Backend? in
                guard index < t.ports.count else { return nil }
                return Backend(host: t.host, port: t.ports[index], taskId: t.id)
            }.sorted { ($0.host, $0.port, $0.taskId) < ($1.host, $1.port, $1.taskId) }
            let vhosts = (label("VHOST") ?? "").split(separator: ",")
                .map { VirtualHostName.normalize($0.trimmingCharacters(in: .whitespaces)) }.filter { !$0.isEmpty }
            return ServiceRoute(
                appId: app.id, portIndex: index, servicePort: port,
                // A virtual host is served over HTTP, as marathon-lb does.
                mode: label("MODE").flatMap(ServiceRoute.Mode.init(rawValue:)) ?? (vhosts.isEmpty ? .tcp : .http),
                balance: label("BALANCE").flatMap(BalanceAlgorithm.init(rawValue:)) ?? .roundRobin,
                backends: backends, vhosts: vhosts,
                path: label("PATH").flatMap { $0.hasPrefix("/") ? $0 : nil },
                sticky: label("STICKY")?.lowercased() == "true",
                websocket: label("WEBSOCKET")?.lowercased() == "true",
                redirectToHTTPS: label("REDIRECT_TO_HTTPS")?.lowercased() == "true")
        }
    }
}

/// Host names as routes know them: lowercase, no port, no trailing dot (B23).
public enum VirtualHostName {
    public static func normalize(_ host: String) -> String {
        var h = Substring(host.lowercased())
        if !h.hasPrefix("["), let colon = h.lastIndex(of: ":") { h = h[..<colon] }
        while h.hasSuffix(".") { h = h.dropLast() }
        return String(h)
    }

    /// The same from a validated Host header's bytes, without a detour through Foundation.
    public static func normalize(_ bytes: UnsafeRawBufferPointer) -> String {
        var end = bytes.count
        if bytes.first != UInt8(ascii: "["), let colon = bytes.lastIndex(of: UInt8(ascii: ":")) { end = colon }
        while end > 0 && bytes[end - 1] == UInt8(ascii: ".") { end -= 1 }
        return String(decoding: bytes[0..<end].lazy.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}
