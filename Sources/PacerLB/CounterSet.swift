import PacerLBCore

/// A worker's counters per service port, touched only by its thread.
struct CounterSet {
    var services: [Int: ServiceCounters] = [:]

    mutating func started(_ port: Int) { services[port, default: .init()].requests += 1; services[port, default: .init()].active += 1 }
    mutating func finished(_ port: Int) { services[port, default: .init()].active -= 1 }
    mutating func connectFailed(_ port: Int) { services[port, default: .init()].connectFailures += 1 }
    mutating func backendError(_ port: Int) { services[port, default: .init()].backendErrors += 1 }
    mutating func timedOut(_ port: Int) { services[port, default: .init()].timeouts += 1 }
    mutating func failed(_ port: Int) { services[port, default: .init()].aborted += 1 }
    mutating func bytes(_ port: Int, in: Int = 0, out: Int = 0) {
        services[port, default: .init()].bytesIn += `in`
        services[port, default: .init()].bytesOut += out
    }

    mutating func answered(_ port: Int, status: Int, latency: Double? = nil, generated: Bool = false) {
        let cls = min(max(status / 100, 1), 5) - 1
        services[port, default: .init()].responses[cls] += 1
        if generated { services[port, default: .init()].generated += 1 }
        if let latency { services[port, default: .init()].latency.record(latency) }
    }
}
