/// Who sent a request to the framework's API, and what they may do — the roles of Marathon's
/// auth plugins. Decisions only; the shell authenticates and asks.
public struct Principal: Sendable, Equatable {
    public enum Role: String, Sendable, Codable, CaseIterable {
        /// Everything: every app, leadership, event subscriptions, drains.
        case admin
        /// Create, change, scale, restart and delete the apps under its `paths`, kill their tasks,
        /// manage their deployments; read only those.
        case deployer
        /// Read everything (apps, tasks, deployments, events, metrics); change nothing.
        case viewer
        /// A load balancer: read everything and report drained tasks.
        case loadbalancer
    }

    public var name: String
    public var role: Role
    /// For a deployer: the groups it owns (`/team-a` covers `/team-a` and everything below).
    public var paths: [PathId]

    public init(name: String, role: Role, paths: [PathId] = []) {
        self.name = name
        self.role = role
        self.paths = paths
    }

    /// The single principal of `--http-credentials` (Marathon's one user): an admin.
    public static func admin(_ name: String) -> Principal { Principal(name: name, role: .admin) }

    public func mayRead(_ app: PathId) -> Bool {
        switch role {
        case .admin, .viewer, .loadbalancer: return true
        case .deployer: return owns(app)
        }
    }

    public func mayChange(_ app: PathId) -> Bool {
        switch role {
        case .admin: return true
        case .deployer: return owns(app)
        case .viewer, .loadbalancer: return false
        }
    }

    /// Whether it sees everything (lists need no filtering).
    public var readsAll: Bool { role != .deployer }

    private func owns(_ app: PathId) -> Bool { paths.contains { $0.contains(app) } }
}

/// What the API lets a principal do with one request, decided from its method and path before
/// any handler runs. Requests that name their apps in the body (`POST /v2/apps`, groups, task
/// kills, deployments) pass as `.checkInHandler`, and the handler asks `mayChange` for each app;
/// lists pass the same way and are filtered to what the principal may read.
public enum Access: Sendable, Equatable {
    case allow
    /// Allowed so far; the handler checks the apps the body names, or filters what it lists.
    case checkInHandler
    case deny(String)

    public static func decide(_ p: Principal, method: String, path: String) -> Access {
        if p.role == .admin { return .allow }
        // App ids are [a-z0-9.-] segments: an escape in a path can only be an attempt to make this
        // check and the router read different apps.
        if path.contains("%") { return .deny("escaped characters are not allowed in API paths") }
        // Dot segments and empty segments could read one app here and another in the router (A12).
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        if segments.contains(where: { $0 == "." || $0 == ".." }) || segments.dropLast().contains(where: \.isEmpty) {
            return .deny("paths with '.', '..' or '//' segments are not allowed: use the canonical path")
        }
        let reading = method == "GET" || method == "HEAD"
        let owned = ownedPath(p, path)
        if reading {
            if let owned { return owned || p.readsAll ? .allow : .deny("\(p.name) may not read \(path)") }
            if p.readsAll || ["/v2/info", "/v2/leader", "/openapi.json"].contains(path) { return .allow }
            // The console's pages are made from API calls with the caller's own credentials, each
            // decided here: a page shows what its reader may read, and nothing else.
            if path == "/ui" || path.hasPrefix("/ui/") { return .allow }
            // A deployer: lists are filtered to its apps, a task's files follow the task's app;
            // what cannot be filtered (metrics, callback URLs) is not its to read.
            let filtered = ["/v2/apps", "/v2/tasks", "/v2/deployments", "/v2/queue", "/v2/events", "/v2/groups"]
            if filtered.contains(path) || path.hasPrefix("/v2/tasks/") { return .checkInHandler }
            return .deny("\(p.name) (deployer) may not read \(path)")
        }
        switch (p.role, path) {
        case (.loadbalancer, "/v2/tasks/drained"): return .allow
        case (.viewer, _), (.loadbalancer, _): return .deny("\(p.name) (\(p.role.rawValue)) may only read")
        default: break
        }
        // A deployer.
        if path == "/v2/leader" || path.hasPrefix("/v2/eventSubscriptions") || path == "/v2/tasks/drained" {
            return .deny("\(p.name) (deployer) may not \(method) \(path): that is an admin's")
        }
        if let owned { return owned ? .allow : .deny("\(p.name) may not change \(path)") }
        return .checkInHandler
    }

    /// For a path naming one app or group (`/v2/apps/{id}…`, `/v2/queue/{id}/delay`,
    /// `/v2/groups/{id}…`): whether it lies under one of the principal's paths. Whatever follows
    /// the id (`/tasks`, `/versions/…`) lies under it too, so no parsing is needed. nil for lists.
    static func ownedPath(_ p: Principal, _ path: String) -> Bool? {
        for base in ["/v2/apps", "/v2/queue", "/v2/groups"] where path.hasPrefix(base + "/") {
            let rest = String(path.dropFirst(base.count))
            guard rest != "/" else { return nil }  // the list itself
            return p.paths.contains { owner in
                owner.isRoot || rest == owner.description || rest.hasPrefix(owner.description + "/")
            }
        }
        return nil
    }
}
