import Foundation
import Yams

/// The load balancer's configuration (`lb-config/*.yaml`). Every timeout and limit is named here.
public struct LBConfig: Codable, Sendable, Equatable {
    public var bind = "127.0.0.1"
    /// How this LB names itself to the framework (draining waits for every LB by name);
    /// empty: `lb-<hostname>-<admin_port>`.
    public var name = ""
    /// Framework replicas to follow; the LB uses whichever answers.
    public var frameworks = ["http://127.0.0.1:8080"]
    /// Serve only apps whose `HAPROXY_GROUP` is this (marathon-lb's `--group`); nil serves all.
    public var group: String?
    public var adminPort = 9090
    /// The shared virtual-host listeners (`HAPROXY_{n}_VHOST`); 0 turns one off. HTTPS needs certificates.
    public var httpPort = 0
    public var httpsPort = 0
    /// TLS certificates for the HTTPS listener; the one whose names match the client's SNI is used.
    public var certificates: [Certificate] = []
    /// A port whose traffic goes to a framework replica (the leader when known), so API clients
    /// keep one address while replicas come and go; 0: none.
    public var frameworkVIP = 0
    /// 0: one per core.
    public var workers = 0
    /// Where a new `pacer lb` asks the running one for its listening sockets (hitless restart);
    /// empty: `/tmp/pacer-lb-<admin_port>.sock`.
    public var handoverSocket = ""
    /// When set, the admin port (`/stats`, `/metrics`, marathon-lb's endpoints) answers only
    /// requests with `Authorization: Bearer <admin_token>`; `/healthz` stays open for probes.
    public var adminToken = ""
    /// Where the admin port listens; empty: `bind`. (`127.0.0.1` keeps `/stats` and `/metrics` on
    /// the machine while the services face the network.)
    public var adminBind = ""
    /// PEM CA the LB trusts (besides the system's) for `https://` framework addresses.
    public var frameworkCA = ""
    /// HTTPS on the admin port: PEM certificate and key (SIGHUP reloads them); empty: plain HTTP.
    public var adminTLSCert = ""
    public var adminTLSKey = ""
    public var timeouts = Timeouts()
    public var limits = Limits()

    public struct Certificate: Codable, Sendable, Equatable {
        public var cert: String
        public var key: String
        public init(cert: String, key: String) {
            self.cert = cert
            self.key = key
        }
    }

    public struct Timeouts: Codable, Sendable, Equatable {
        /// Seconds to connect to a backend before trying the next.
        public var connect = 2.0
        /// Seconds a connection may stay silent in either direction (TCP mode, request bodies, tunnels).
        public var idle = 60.0
        /// Seconds a backend has to start its response (then 504).
        public var server = 30.0
        /// Seconds a client has to send a complete request head (slowloris, then 408).
        public var httpRequest = 5.0
        /// Seconds an idle client keep-alive connection is kept between requests.
        public var keepAlive = 15.0
        /// Seconds an idle pooled connection to a backend is kept.
        public var upstreamIdle = 10.0
        /// Seconds a stopping LB lets open requests finish before it exits.
        public var drain = 30.0
        public init() {}
        enum CodingKeys: String, CodingKey {
            case connect, idle, server
            case httpRequest = "http_request"
            case keepAlive = "keep_alive"
            case upstreamIdle = "upstream_idle"
            case drain
        }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Timeouts()
            connect = try c.value(.connect, or: d.connect)
            idle = try c.value(.idle, or: d.idle)
            server = try c.value(.server, or: d.server)
            httpRequest = try c.value(.httpRequest, or: d.httpRequest)
            keepAlive = try c.value(.keepAlive, or: d.keepAlive)
            upstreamIdle = try c.value(.upstreamIdle, or: d.upstreamIdle)
            drain = try c.value(.drain, or: d.drain)
        }
        public var all: [Double] { [connect, idle, server, httpRequest, keepAlive, upstreamIdle, drain] }
    }

    public struct Limits: Codable, Sendable, Equatable {
        /// Client connections per worker.
        public var maxConnections = 4_000
        /// Bytes buffered toward one side before reading from the other stops (backpressure).
        public var bufferBytes = 256 * 1024
        public var requestLine = 8192
        public var headerLine = 8192
        /// The whole request head (431 beyond).
        public var headerBytes = 32768
        public var headerCount = 100
        /// Largest request body accepted (413 beyond); 0: no limit.
        public var bodyBytes = 1 << 30
        /// Idle pooled connections kept per backend and worker.
        public var idleUpstreams = 64
        public init() {}
        enum CodingKeys: String, CodingKey {
            case maxConnections = "max_connections"
            case bufferBytes = "buffer_bytes"
            case requestLine = "request_line"
            case headerLine = "header_line"
            case headerBytes = "header_bytes"
            case headerCount = "header_count"
            case bodyBytes = "body_bytes"
            case idleUpstreams = "idle_upstreams"
        }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Limits()
            maxConnections = try c.value(.maxConnections, or: d.maxConnections)
            bufferBytes = try c.value(.bufferBytes, or: d.bufferBytes)
            requestLine = try c.value(.requestLine, or: d.requestLine)
            headerLine = try c.value(.headerLine, or: d.headerLine)
            headerBytes = try c.value(.headerBytes, or: d.headerBytes)
            headerCount = try c.value(.headerCount, or: d.headerCount)
            bodyBytes = try c.value(.bodyBytes, or: d.bodyBytes)
            idleUpstreams = try c.value(.idleUpstreams, or: d.idleUpstreams)
        }

        public var head: HeadLimits {
            var h = HeadLimits()
            h.requestLine = requestLine
            h.fieldLine = headerLine
            h.headBytes = headerBytes
            h.fields = headerCount
            return h
        }
    }

    public init() {}

    /// What `pacer up` and `pacer lb` run without a configuration file: one load balancer in front
    /// of the local framework, virtual hosts on 10080. `lb-config/local.yaml` spells the same out
    /// with comments (a test keeps the two equal).
    public static var local: LBConfig {
        var c = LBConfig()
        c.httpPort = 10080
        return c
    }

    enum CodingKeys: String, CodingKey {
        case bind, name, frameworks, group
        case adminPort = "admin_port"
        case httpPort = "http_port"
        case httpsPort = "https_port"
        case certificates
        case frameworkVIP = "framework_vip"
        case workers
        case handoverSocket = "handover_socket"
        case adminToken = "admin_token"
        case adminBind = "admin_bind"
        case frameworkCA = "framework_ca"
        case adminTLSCert = "admin_tls_cert"
        case adminTLSKey = "admin_tls_key"
        case timeouts, limits
    }

    /// The hand-over socket's path, with the default filled in.
    public var handoverPath: String { handoverSocket.isEmpty ? "/tmp/pacer-lb-\(adminPort).sock" : handoverSocket }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        bind = try c.value(.bind, or: "127.0.0.1")
        name = try c.value(.name, or: "")
        frameworks = try c.value(.frameworks, or: ["http://127.0.0.1:8080"])
        group = try c.optional(.group)
        adminPort = try c.value(.adminPort, or: 9090)
        httpPort = try c.value(.httpPort, or: 0)
        httpsPort = try c.value(.httpsPort, or: 0)
        certificates = try c.value(.certificates, or: [])
        frameworkVIP = try c.value(.frameworkVIP, or: 0)
        workers = try c.value(.workers, or: 0)
        handoverSocket = try c.value(.handoverSocket, or: "")
        adminToken = try c.value(.adminToken, or: "")
        adminBind = try c.value(.adminBind, or: "")
        frameworkCA = try c.value(.frameworkCA, or: "")
        adminTLSCert = try c.value(.adminTLSCert, or: "")
        adminTLSKey = try c.value(.adminTLSKey, or: "")
        timeouts = try c.value(.timeouts, or: Timeouts())
        limits = try c.value(.limits, or: Limits())
    }
}

/// A configuration problem, with the line it is on when known (as `haproxy -c` reports).
public struct LBConfigError: Error, Sendable, CustomStringConvertible {
    public var line: Int?
    public var message: String
    public var description: String { (line.map { "line \($0): " } ?? "") + message }
}

extension LBConfig {
    static let knownKeys: [String: Set<String>] = [
        "": [
            "bind", "name", "frameworks", "group", "admin_port", "http_port", "https_port", "certificates", "framework_vip",
            "workers", "handover_socket", "admin_token", "admin_bind", "framework_ca", "admin_tls_cert", "admin_tls_key",
            "timeouts", "limits"
        ],
        "timeouts": ["connect", "idle", "server", "http_request", "keep_alive", "upstream_idle", "drain"],
        "limits": [
            "max_connections", "buffer_bytes", "request_line", "header_line", "header_bytes", "header_count",
            "body_bytes", "idle_upstreams"
        ]
    ]

    /// Parses and checks a configuration; every error names its line.
    public static func parse(_ text: String) throws(LBConfigError) -> LBConfig {
        let node: Node
        do {
            guard let n = try Yams.compose(yaml: text) else { return LBConfig() }
            node = n
        } catch let e as YamlError {
            throw LBConfigError(line: nil, message: "not valid YAML: \(e)")
        } catch {
            throw LBConfigError(line: nil, message: "not valid YAML: \(error)")
        }
        try checkKeys(node, section: "")
        let config: LBConfig
        do { config = try YAMLDecoder().decode(LBConfig.self, from: text) } catch let e as DecodingError {
            throw describe(e, in: node)
        } catch {
            throw LBConfigError(line: nil, message: "\(error)")
        }
        try config.validate(node)
        return config
    }

    private static func checkKeys(_ node: Node, section: String) throws(LBConfigError) {
        guard let mapping = node.mapping, let known = knownKeys[section] else { return }
        for (key, value) in mapping {
            guard let name = key.string else { continue }
            guard known.contains(name) else {
                throw LBConfigError(
                    line: key.mark.map { $0.line },
                    message: "unknown key '\(name)'"
                        + (section.isEmpty ? "" : " in '\(section)'") + "; known: \(known.sorted().joined(separator: ", "))")
            }
            if knownKeys[name] != nil { try checkKeys(value, section: name) }
        }
    }

    static func line(of path: [any CodingKey], in node: Node) -> Int? {
        var current: Node? = node
        for key in path {
            if let i = key.intValue {
                current = current?.sequence.flatMap { $0.indices.contains(i) ? $0[i] : nil }
            } else {
                current = current?.mapping?[key.stringValue]
            }
        }
        return current?.mark?.line
    }

    static func describe(_ e: DecodingError, in node: Node) -> LBConfigError {
        switch e {
        case .typeMismatch(let type, let ctx):
            return LBConfigError(
                line: line(of: ctx.codingPath, in: node),
                message: "'\(ctx.codingPath.map(\.stringValue).joined(separator: "."))' must be \(type)")
        case .dataCorrupted(let ctx), .valueNotFound(_, let ctx):
            return LBConfigError(
                line: line(of: ctx.codingPath, in: node),
                message: "'\(ctx.codingPath.map(\.stringValue).joined(separator: "."))': \(ctx.debugDescription)")
        case .keyNotFound(let key, let ctx):
            return LBConfigError(line: line(of: ctx.codingPath, in: node), message: "missing '\(key.stringValue)'")
        @unknown default:
            return LBConfigError(line: nil, message: "\(e)")
        }
    }

    func validate(_ node: Node) throws(LBConfigError) {
        func fail(_ path: [String], _ message: String) -> LBConfigError {
            var current: Node? = node
            for p in path { current = current?.mapping?[p] }
            return LBConfigError(line: current?.mark?.line, message: message)
        }
        if frameworks.isEmpty { throw fail(["frameworks"], "'frameworks' needs at least one URL") }
        for url in frameworks where !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            throw fail(["frameworks"], "'\(url)' is not an http(s) URL")
        }
        if !(1...65535).contains(adminPort) {
            throw fail(["admin_port"], "'admin_port' must be a port (1-65535), got \(adminPort)")
        }
        if !(0...256).contains(workers) { throw fail(["workers"], "'workers' must be 0 (one per core) to 256") }
        if adminTLSCert.isEmpty != adminTLSKey.isEmpty {
            throw fail(["admin_tls_cert"], "'admin_tls_cert' and 'admin_tls_key' go together")
        }
        for (key, port) in [("http_port", httpPort), ("https_port", httpsPort), ("framework_vip", frameworkVIP)]
        where !(0...65535).contains(port) {
            throw fail([key], "'\(key)' must be a port (1-65535) or 0 for none, got \(port)")
        }
        if httpsPort > 0 && certificates.isEmpty {
            throw fail(["https_port"], "'https_port' needs at least one entry in 'certificates'")
        }
        if !timeouts.all.allSatisfy({ $0 > 0 && $0 <= 86_400 }) {
            throw fail(["timeouts"], "timeouts must be > 0 and <= 86400 seconds")
        }
        if limits.maxConnections < 1 || limits.bufferBytes < 4096 {
            throw fail(["limits"], "max_connections must be >= 1 and buffer_bytes >= 4096")
        }
        if limits.requestLine < 64 || limits.headerLine < 64 || limits.headerBytes < limits.requestLine
            || limits.headerCount < 1 || limits.bodyBytes < 0 || limits.idleUpstreams < 0
        {
            throw fail(
                ["limits"],
                "header limits must be >= 64 bytes (header_bytes >= request_line), header_count >= 1, "
                    + "body_bytes and idle_upstreams >= 0")
        }
    }
}
