import PacerModel

/// Gives every `port: 0` definition a service port from the range, unique across apps;
/// an update keeps the ports the app already had, so load balancers see stable addresses.
public enum ServicePorts {
    public static func assign(
        _ app: AppDefinition, previous: AppDefinition?, others: [AppDefinition],
        range: ClosedRange<Int>
    ) throws(APIError) -> AppDefinition {
        var app = app
        var taken: [Int: PathId] = [:]
        for other in others where other.id != app.id {
            for p in other.portDefinitions where p.port != 0 { taken[p.port] = other.id }
        }
        for (i, p) in app.portDefinitions.enumerated() where p.port != 0 {
            if let owner = taken[p.port] {
                throw .invalid([FieldError(path: "/portDefinitions/\(i)/port", "service port \(p.port) is used by app \(owner)")])
            }
        }
        var used = Set(taken.keys).union(app.portDefinitions.map(\.port))
        var next = range.lowerBound
        for i in app.portDefinitions.indices where app.portDefinitions[i].port == 0 {
            if let old = previous?.portDefinitions[safe: i]?.port, old != 0, !used.contains(old) {
                app.portDefinitions[i].port = old
                used.insert(old)
                continue
            }
            while next <= range.upperBound && used.contains(next) { next += 1 }
            guard next <= range.upperBound else {
                throw .invalid([FieldError(path: "/portDefinitions/\(i)/port", "no free service port left in \(range)")])
            }
            app.portDefinitions[i].port = next
            used.insert(next)
        }
        return app
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}
