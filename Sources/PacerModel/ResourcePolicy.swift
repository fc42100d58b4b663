/// Role names and the operator's settings for them: weights, quotas and dynamic reservations.
public enum Role {
    /// The default role: what a framework naming no role, and resources reserved for no one, belong to.
    public static let any = "*"

    /// Mesos' rule: not empty, not `.`/`..`, no leading `-`, no whitespace or `/`.
    public static func isValid(_ name: String) -> Bool {
        name == any
            || (!name.isEmpty && name.count <= 128 && name != "." && name != ".." && !name.hasPrefix("-")
                && !name.contains { $0.isWhitespace || $0 == "/" || $0 == "*" })
    }
}

/// A role's quota: what it is guaranteed (offered first, kept free for it) and what it may never exceed.
public struct Quota: Codable, Sendable, Equatable {
    public var guarantee: Resources
    public var limit: Resources?
    public init(guarantee: Resources = Resources(), limit: Resources? = nil) {
        self.guarantee = guarantee
        self.limit = limit
    }
}

/// Resources on one agent set aside for one role (dynamic: made and undone through the operator API).
public struct Reservation: Codable, Sendable, Equatable {
    public var agentId: String
    public var role: String
    public var resources: Resources
    public init(agentId: String, role: String, resources: Resources) {
        self.agentId = agentId
        self.role = role
        self.resources = resources
    }
}

/// Everything the operator set at runtime; the master persists it and reloads it on start.
public struct ResourcePolicy: Codable, Sendable, Equatable {
    public var weights: [String: Double] = [:]
    public var quotas: [String: Quota] = [:]
    /// Per agent and role, merged: reserving twice adds up.
    public var reservations: [String: [String: Resources]] = [:]
    public init() {}

    public func weight(_ role: String) -> Double { weights[role] ?? 1 }
}

extension Resources {
    /// cpus, mem and disk only: reservations and quotas are scalar.
    public var scalars: Resources { Resources(cpus: cpus, mem: mem, disk: disk) }
    public var isEmpty: Bool { cpus < Self.epsilon && mem < Self.epsilon && disk < Self.epsilon && ports.isEmpty }

    public static func minimum(_ a: Resources, _ b: Resources) -> Resources {
        Resources(cpus: Swift.min(a.cpus, b.cpus), mem: Swift.min(a.mem, b.mem), disk: Swift.min(a.disk, b.disk))
    }

    /// The largest fraction of `total` this takes of any one resource (DRF's dominant share).
    public func dominantShare(of total: Resources) -> Double {
        func share(_ x: Double, _ t: Double) -> Double { t > 0 ? x / t : 0 }
        return Swift.max(share(cpus, total.cpus), share(mem, total.mem), share(disk, total.disk))
    }
}
