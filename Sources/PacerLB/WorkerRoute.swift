import PacerLBCore

/// A service port as one worker serves it: the route from the current snapshot, the balancer
/// (whose state outlives snapshots while the algorithm stays the same) and the counters.
final class WorkerRoute {
    let port: Int
    let service: ServiceRoute
    var balancer: any Balancer
    let cell: ServiceCell

    init(service: ServiceRoute, balancer: any Balancer, cell: ServiceCell) {
        port = service.servicePort
        self.service = service
        self.balancer = balancer
        self.cell = cell
    }

    /// The balancer's choice; a sticky cookie naming a backend still in rotation wins.
    func pick(client: UInt64, cookie: String?) -> (Backend, picked: Bool)? {
        if let cookie, let stuck = service.backends.first(where: { $0.stickyId == cookie }) { return (stuck, false) }
        return balancer.pick(service.backends, client: client).map { ($0, true) }
    }

    /// Up to two other backends to try when `failed` cannot be reached.
    func alternates(excluding failed: Backend) -> [Backend] {
        Array(service.backends.lazy.filter { $0 != failed }.prefix(2))
    }
}
