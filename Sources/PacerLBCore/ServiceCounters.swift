/// What one worker counted for one service since it started. Workers keep these in plain
/// variables on their own thread and publish copies now and then; the admin side adds them up.
public struct ServiceCounters: Sendable, Equatable, Codable {
    /// Connections (TCP mode) or requests (HTTP mode) taken on.
    public var requests = 0
    public var active = 0
    /// Responses by class: index 0 for 1xx … 4 for 5xx.
    public var responses = [0, 0, 0, 0, 0]
    /// Responses the LB made itself (400, 404, 408, 502, 503, 504 …).
    public var generated = 0
    public var connectFailures = 0
    /// Malformed responses, resets and early closes by backends.
    public var backendErrors = 0
    public var timeouts = 0
    /// Exchanges cut off midway (client or backend vanished).
    public var aborted = 0
    public var bytesIn = 0
    public var bytesOut = 0
    public var latency = LatencyHistogram()
    /// Per backend ("host:port") that served this service and is still routed or busy.
    public var backends: [String: BackendCounters] = [:]

    public init() {}

    public static func + (a: ServiceCounters, b: ServiceCounters) -> ServiceCounters {
        var s = a
        s.requests += b.requests
        s.active += b.active
        s.generated += b.generated
        s.responses = zip(a.responses, b.responses).map(+)
        s.connectFailures += b.connectFailures
        s.backendErrors += b.backendErrors
        s.timeouts += b.timeouts
        s.aborted += b.aborted
        s.bytesIn += b.bytesIn
        s.bytesOut += b.bytesOut
        s.latency = a.latency + b.latency
        s.backends = a.backends.merging(b.backends, uniquingKeysWith: +)
        return s
    }
}

/// One backend's share of a service's traffic (the console's Traffic page, `/stats`).
public struct BackendCounters: Sendable, Equatable, Codable {
    /// Connections opened to it, and open now (pooled HTTP connections included).
    public var connections = 0
    public var active = 0
    /// HTTP responses by class: index 0 for 1xx … 4 for 5xx.
    public var responses = [0, 0, 0, 0, 0]
    /// Connects that failed, malformed or cut-off responses, timeouts.
    public var failures = 0
    /// HTTP: time to the response head.
    public var latency = LatencyHistogram()

    public init() {}

    public static func + (a: BackendCounters, b: BackendCounters) -> BackendCounters {
        var s = a
        s.connections += b.connections
        s.active += b.active
        s.responses = zip(a.responses, b.responses).map(+)
        s.failures += b.failures
        s.latency = a.latency + b.latency
        return s
    }
}

/// Time to the response head, in Prometheus-style cumulative-friendly buckets.
public struct LatencyHistogram: Sendable, Equatable, Codable {
    public static let bounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// counts[i] for latencies <= bounds[i]; the last entry for everything above.
    public var counts = [Int](repeating: 0, count: bounds.count + 1)
    public var sum = 0.0
    public var count: Int { counts.reduce(0, +) }

    public init() {}

    public mutating func record(_ seconds: Double) {
        var i = 0
        while i < Self.bounds.count && seconds > Self.bounds[i] { i += 1 }
        counts[i] += 1
        sum += seconds
    }

    public static func + (a: LatencyHistogram, b: LatencyHistogram) -> LatencyHistogram {
        var h = a
        h.counts = zip(a.counts, b.counts).map(+)
        h.sum += b.sum
        return h
    }
}
