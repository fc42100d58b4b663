import PacerLBCore

/// One service port's counters in one worker, touched only by that worker's thread. A class so
/// the request path updates it through a reference it already holds, without a dictionary lookup.
final class ServiceCell {
    var counters = ServiceCounters()

    func started() { counters.requests += 1; counters.active += 1 }
    func finished() { counters.active -= 1 }
    func connectFailed() { counters.connectFailures += 1 }
    func backendError() { counters.backendErrors += 1 }
    func timedOut() { counters.timeouts += 1 }
    func failed() { counters.aborted += 1 }

    func answered(status: Int, latency: Double? = nil, generated: Bool = false) {
        counters.responses[min(max(status / 100, 1), 5) - 1] += 1
        if generated { counters.generated += 1 }
        if let latency { counters.latency.record(latency) }
    }
}

/// A service port as one worker serves it: the route from the current snapshot, the balancer
/// (whose state outlives snapshots while the algorithm stays the same) and the counters.
final class WorkerRoute {
    let port: Int
    let service: ServiceRoute
    var balancer: any Balancer
    let cell: ServiceCell

    init(service: ServiceRoute, balancer: any Balancer, cell: ServiceCell) {
        port = service.servicePort; self.service = service; self.balancer = balancer; self.cell = cell
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
