/// The routing table as marathon-lb's admin endpoints show it, for the deploy tools that read them
/// (zero-downtime deploy scripts, dashboards): backends are named as marathon-lb names them,
/// `<app id with / as _>_<service port>`.
public enum MarathonLBViews {
    public static func backendName(_ s: ServiceRoute) -> String {
        let app = s.appId.split(separator: "/").joined(separator: "_")
        return "\(app)_\(s.servicePort)"
    }

    /// `/_haproxy_getvhostmap`: one `<vhost> <backend>` line per virtual host (domain2backend.map).
    public static func vhostMap(_ table: RoutingTable) -> String {
        var lines: [String] = []
        for (host, routes) in table.virtualHosts.sorted(by: { $0.key < $1.key }) {
            for route in routes {
                guard let service = table.services[route.servicePort] else { continue }
                lines.append("\(host)\(route.path == "/" ? "" : route.path) \(backendName(service))")
            }
        }
        return lines.map { $0 + "\n" }.joined()
    }

    /// `/_haproxy_getappmap`: one `<app id> <backend>` line per service (app2backend.map).
    public static func appMap(_ table: RoutingTable) -> String {
        table.services.values.sorted { ($0.appId, $0.servicePort) < ($1.appId, $1.servicePort) }
            .map { "\($0.appId) \(backendName($0))\n" }.joined()
    }

    /// `/_haproxy_getconfig`: Pacer's table written as the HAProxy configuration marathon-lb would
    /// generate for it (frontends per service port, the shared vhost frontend, backends with their
    /// servers). Pacer never reloads anything; this is for reading.
    public static func config(_ table: RoutingTable, httpPort: Int?, bind: String) -> String {
        var out = "# pacer lb: the live routing table in HAProxy's configuration syntax (read-only; no reloads)\n"
        let services = table.services.values.sorted { $0.servicePort < $1.servicePort }
        if let httpPort, !table.virtualHosts.isEmpty {
            out += "\nfrontend marathon_http_in\n  bind \(bind):\(httpPort)\n  mode http\n"
            for (host, routes) in table.virtualHosts.sorted(by: { $0.key < $1.key }) {
                for route in routes {
                    guard let s = table.services[route.servicePort] else { continue }
                    let acl = "host_\(host.replacingOccurrences(of: ".", with: "_"))_\(s.servicePort)"
                    out += "  acl \(acl) hdr(host) -i \(host)\n"
                    let path = route.path == "/" ? "" : " path_beg \(route.path)"
                    out += "  use_backend \(backendName(s)) if \(acl)\(path.isEmpty ? "" : " {\(path) }")\n"
                }
            }
        }
        for s in services {
            let name = backendName(s)
            out += "\nfrontend \(name)\n  bind \(bind):\(s.servicePort)\n  mode \(s.mode.rawValue)\n  use_backend \(name)\n"
            out += "\nbackend \(name)\n  balance \(s.balance.rawValue)\n  mode \(s.mode.rawValue)\n"
            if s.sticky { out += "  cookie pacer_sticky insert indirect nocache\n" }
            for b in s.backends.sorted(by: { ($0.host, $0.port) < ($1.host, $1.port) }) {
                let server = "\(b.host.replacingOccurrences(of: ".", with: "_"))_\(b.port)"
                out += "  server \(server) \(b.host):\(b.port)\(s.sticky ? " cookie \(b.stickyId)" : "")\n"
            }
        }
        return out
    }
}
