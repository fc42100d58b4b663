import PacerLBCore

/// One service port's counters in one worker, touched only by that worker's thread. A class so
/// the request path updates it through a reference it already holds, without a dictionary lookup.
final class ServiceCell {
    var counters = ServiceCounters()

    func started() {
        counters.requests += 1
        counters.active += 1
    }
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

    /// Per backend; a connection looks its cell up once and keeps it.
    private(set) var backends: [Backend: BackendCell] = [:]

    func backend(_ b: Backend) -> BackendCell {
        if let c = backends[b] { return c }
        let c = BackendCell()
        backends[b] = c
        return c
    }

    /// Forgets backends that left the table and have no connection open: tasks come and go
    /// (millions a week), and their counters must not pile up.
    func keepBackends(_ routed: Set<Backend>) {
        backends = backends.filter { routed.contains($0.key) || $0.value.counters.active > 0 }
    }

    /// What the stats readers see: the service's counters with its backends'.
    var snapshot: ServiceCounters {
        var c = counters
        c.backends = Dictionary(uniqueKeysWithValues: backends.map { ("\($0.key.host):\($0.key.port)", $0.value.counters) })
        return c
    }
}

/// One backend's counters in one worker (its connections hold it).
final class BackendCell {
    var counters = BackendCounters()

    func opened() {
        counters.connections += 1
        counters.active += 1
    }
    func closed() { counters.active -= 1 }
    func failed() { counters.failures += 1 }
    func answered(status: Int, latency: Double) {
        counters.responses[min(max(status / 100, 1), 5) - 1] += 1
        counters.latency.record(latency)
    }
}
