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
}
