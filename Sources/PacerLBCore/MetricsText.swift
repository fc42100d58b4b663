import PacerModel

/// Renders the LB's counters (summed snapshots published by the worker threads) for `/metrics`.
public enum MetricsText {
    public struct Service {
        public var port: Int
        public var app: String
        public var mode: String
        public var backends: Int
        public var counters: ServiceCounters
        public init(port: Int, app: String, mode: String, backends: Int, counters: ServiceCounters) {
            self.port = port
            self.app = app
            self.mode = mode
            self.backends = backends
            self.counters = counters
        }
    }

    /// A certificate the HTTPS listener serves, and when it stops being valid.
    public struct Certificate: Sendable, Equatable {
        public var path: String
        public var subject: String
        /// notAfter, seconds since 1970.
        public var expires: Double
        public init(path: String, subject: String, expires: Double) {
            self.path = path
            self.subject = subject
            self.expires = expires
        }
    }

    public static func render(
        services: [Service], connections: (accepted: Int, active: Int, refused: Int),
        frameworkConnected: Bool, certificates: [Certificate] = []
    ) -> String {
        var out = PrometheusText()
        func labels(_ s: Service, _ extra: (String, String)? = nil) -> [(String, String)] {
            [("port", "\(s.port)"), ("app", s.app), ("mode", s.mode)] + (extra.map { [$0] } ?? [])
        }
        let sorted = services.sorted { $0.port < $1.port }
        out.family(
            "pacer_lb_requests_total", "counter", "Requests (HTTP) or connections (TCP) taken on per service.",
            sorted.map { (labels($0), "\($0.counters.requests)") })
        out.family(
            "pacer_lb_active", "gauge", "Requests or connections in progress per service.",
            sorted.map { (labels($0), "\($0.counters.active)") })
        out.family(
            "pacer_lb_responses_total", "counter", "HTTP responses per service and status class.",
            sorted.flatMap { s in (1...5).map { (labels(s, ("class", "\($0)xx")), "\(s.counters.responses[$0 - 1])") } })
        out.family(
            "pacer_lb_errors_total", "counter", "Failures per service and kind.",
            sorted.flatMap { s in
                [
                    ("connect", s.counters.connectFailures), ("backend", s.counters.backendErrors),
                    ("timeout", s.counters.timeouts),
                    ("aborted", s.counters.aborted), ("generated", s.counters.generated)
                ].map { (labels(s, ("kind", $0.0)), "\($0.1)") }
            })
        out.family(
            "pacer_lb_bytes_total", "counter", "Bytes relayed per service and direction.",
            sorted.flatMap { s in
                [
                    (labels(s, ("direction", "in")), "\(s.counters.bytesIn)"),
                    (labels(s, ("direction", "out")), "\(s.counters.bytesOut)")
                ]
            })
        out.family(
            "pacer_lb_backends", "gauge", "Backends in rotation per service.", sorted.map { (labels($0), "\($0.backends)") })
        out.family("pacer_lb_response_seconds", "histogram", "Time from request to response head per service.", [])
        for s in sorted {
            var cumulative = 0
            for (i, bound) in LatencyHistogram.bounds.enumerated() {
                cumulative += s.counters.latency.counts[i]
                out.sample("pacer_lb_response_seconds_bucket", labels(s, ("le", "\(bound)")), "\(cumulative)")
            }
            out.sample("pacer_lb_response_seconds_bucket", labels(s, ("le", "+Inf")), "\(s.counters.latency.count)")
            out.sample("pacer_lb_response_seconds_sum", labels(s), "\(s.counters.latency.sum)")
            out.sample("pacer_lb_response_seconds_count", labels(s), "\(s.counters.latency.count)")
        }
        out.family(
            "pacer_lb_connections_accepted_total", "counter", "Client connections accepted.", [([], "\(connections.accepted)")])
        out.family("pacer_lb_connections_active", "gauge", "Client connections open.", [([], "\(connections.active)")])
        out.family(
            "pacer_lb_connections_refused_total", "counter", "Client connections refused (no route, limits).",
            [([], "\(connections.refused)")])
        out.family(
            "pacer_lb_framework_connected", "gauge", "1 while the framework's event stream is followed.",
            [([], frameworkConnected ? "1" : "0")])
        // A timestamp rather than "seconds left": the alert subtracts time(), and a scrape that
        // stalls does not make the certificate look younger.
        out.family(
            "pacer_lb_certificate_expiry_timestamp_seconds", "gauge",
            "When each certificate the HTTPS listener serves expires (notAfter, Unix time).",
            certificates.map { ([("certificate", $0.path), ("subject", $0.subject)], "\(Int64($0.expires))") })
        return out.text
    }
}
