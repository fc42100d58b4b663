import PacerModel

/// Why an offer could not take one more instance of an app: what "no offer fits" means in words,
/// for `/v2/deployments` and the console ("why does my deployment wait?").
public enum Misfit: Error, Equatable, Sendable, CustomStringConvertible {
    case role(offered: String, wanted: String)
    /// Batch apps run only on revocable capacity; services never do.
    case revocable(wanted: Bool)
    case cpus(need: Double, had: Double)
    case mem(need: Double, had: Double)
    case disk(need: Double, had: Double)
    case ports(need: Int, had: Int)
    case requiredPorts([Int])
    case constraint(Constraint)

    public var description: String {
        switch self {
        case .role(let offered, let wanted): "offered to role '\(offered)', the app runs as '\(wanted)'"
        case .revocable(let wanted):
            wanted ? "not revocable (batch apps run only on idle capacity)" : "revocable (services need guaranteed resources)"
        case .cpus(let need, let had): "too few cpus (needs \(need), had \(had))"
        case .mem(let need, let had): "too little mem (needs \(need) MiB, had \(had))"
        case .disk(let need, let had): "too little disk (needs \(need) MiB, had \(had))"
        case .ports(let need, let had): "too few ports (needs \(need), had \(had))"
        case .requiredPorts(let ports): "required ports \(ports.map(String.init).joined(separator: ",")) not free"
        case .constraint(let c): "constraint \(c.field):\(c.op.rawValue)\(c.value.map { ":" + $0 } ?? "") not met"
        }
    }

    /// The kind, without the numbers: offers are counted by kind.
    var kind: String {
        switch self {
        case .role: "role"
        case .revocable: "revocable"
        case .cpus: "cpus"
        case .mem: "mem"
        case .disk: "disk"
        case .ports: "ports"
        case .requiredPorts: "requiredPorts"
        case .constraint(let c): "constraint \(c.field):\(c.op.rawValue)"
        }
    }
}

/// Why the latest offer of each agent did not fit an app, kept while the app has instances to
/// launch: "no offer fits" is answered over the whole cluster, not only the last batch (offers
/// arrive one agent at a time). Offers of the wrong kind (another role, revocable for a service)
/// are named only when nothing else is.
public struct Misfits: Sendable, Equatable {
    private var byOffer: [String: Misfit] = [:]
    /// Offers looked at for the app while it waited, and those it could not use (Marathon's
    /// `processedOffersSummary` in `/v2/queue`).
    public private(set) var processed = 0
    public private(set) var unused = 0

    public init() {}

    mutating func count(processed: Int, unused: Int) {
        self.processed += processed
        self.unused += unused
    }

    /// One agent's offer (its revocable and guaranteed offers apart) did not fit.
    mutating func record(_ m: Misfit, on offer: Offer) {
        byOffer[offer.agentId + (offer.revocable == true ? "|revocable" : "")] = m
    }

    public var isEmpty: Bool { byOffer.isEmpty }

    /// "2 offers did not fit: 2 × constraint rack:LIKE:r9 not met" (the latest example of each kind).
    public var summary: String {
        let relevant = byOffer.values.filter {
            if case .role = $0 { return false }
            if case .revocable = $0 { return false }
            return true
        }
        let shown = relevant.isEmpty ? Array(byOffer.values) : relevant
        var byKind: [String: (count: Int, example: Misfit)] = [:]
        for m in shown { byKind[m.kind] = ((byKind[m.kind]?.count ?? 0) + 1, m) }
        let parts = byKind.sorted { ($0.value.count, $1.key) > ($1.value.count, $0.key) }.map {
            "\($0.value.count) × \($0.value.example)"
        }
        return "\(shown.count) offer\(shown.count == 1 ? "" : "s") did not fit: " + parts.joined(separator: "; ")
    }
}
