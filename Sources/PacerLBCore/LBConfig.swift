import Foundation
import Yams

/// The load balancer's configuration (`lb-config/*.yaml`). Every timeout and limit is named here.
public struct LBConfig: Codable, Sendable, Equatable {
    public var bind = "127.0.0.1"
    /// Framework replicas to follow; the LB uses whichever answers.
    public var frameworks = ["http://127.0.0.1:8080"]
    /// Serve only apps whose `HAPROXY_GROUP` is this (marathon-lb's `--group`); nil serves all.
    public var group: String?
    public var adminPort = 9090
    /// 0: one per core.
    public var workers = 0
    public var timeouts = Timeouts()
    public var limits = Limits()

    public struct Timeouts: Codable, Sendable, Equatable {
        public var connect = 2.0
        public var idle = 60.0
        public init() {}
        enum CodingKeys: String, CodingKey { case connect, idle }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            connect = try c.decodeIfPresent(Double.self, forKey: .connect) ?? 2
            idle = try c.decodeIfPresent(Double.self, forKey: .idle) ?? 60
        }
    }

    public struct Limits: Codable, Sendable, Equatable {
        public var maxConnections = 4_000
        /// Bytes buffered toward one side before reading from the other stops (backpressure).
        public var bufferBytes = 256 * 1024
        public init() {}
        enum CodingKeys: String, CodingKey { case maxConnections = "max_connections", bufferBytes = "buffer_bytes" }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? 4_000
            bufferBytes = try c.decodeIfPresent(Int.self, forKey: .bufferBytes) ?? 256 * 1024
        }
    }

    public init() {}

    enum CodingKeys: String, CodingKey {
        case bind, frameworks, group, adminPort = "admin_port", workers, timeouts, limits
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        bind = try c.decodeIfPresent(String.self, forKey: .bind) ?? "127.0.0.1"
        frameworks = try c.decodeIfPresent([String].self, forKey: .frameworks) ?? ["http://127.0.0.1:8080"]
        group = try c.decodeIfPresent(String.self, forKey: .group)
        adminPort = try c.decodeIfPresent(Int.self, forKey: .adminPort) ?? 9090
        workers = try c.decodeIfPresent(Int.self, forKey: .workers) ?? 0
        timeouts = try c.decodeIfPresent(Timeouts.self, forKey: .timeouts) ?? Timeouts()
        limits = try c.decodeIfPresent(Limits.self, forKey: .limits) ?? Limits()
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
        "": ["bind", "frameworks", "group", "admin_port", "workers", "timeouts", "limits"],
        "timeouts": ["connect", "idle"],
        "limits": ["max_connections", "buffer_bytes"],
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

    static func checkKeys(_ node: Node, section: String) throws(LBConfigError) {
        guard let mapping = node.mapping, let known = knownKeys[section] else { return }
        for (key, value) in mapping {
            guard let name = key.string else { continue }
            guard known.contains(name) else {
                throw LBConfigError(line: key.mark.map { $0.line }, message: "unknown key '\(name)'"
                    + (section.isEmpty ? "" : " in '\(section)'") + "; known: \(known.sorted().joined(separator: ", "))")
            }
            if knownKeys[name] != nil { try checkKeys(value, section: name) }
        }
    }

    static func line(of path: [any CodingKey], in node: Node) -> Int? {
        var current: Node? = node
        for key in path {
            if let i = key.intValue { current = current?.sequence.flatMap { $0.indices.contains(i) ? $0[i] : nil } } else {
                current = current?.mapping?[key.stringValue]
            }
        }
        return current?.mark?.line
    }

    static func describe(_ e: DecodingError, in node: Node) -> LBConfigError {
        switch e {
        case .typeMismatch(let type, let ctx):
            return LBConfigError(line: line(of: ctx.codingPath, in: node),
                                 message: "'\(ctx.codingPath.map(\.stringValue).joined(separator: "."))' must be \(type)")
        case .dataCorrupted(let ctx), .valueNotFound(_, let ctx):
            return LBConfigError(line: line(of: ctx.codingPath, in: node),
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
        if !(1...65535).contains(adminPort) { throw fail(["admin_port"], "'admin_port' must be a port (1-65535), got \(adminPort)") }
        if !(0...256).contains(workers) { throw fail(["workers"], "'workers' must be 0 (one per core) to 256") }
        if !(timeouts.connect > 0 && timeouts.idle > 0) { throw fail(["timeouts"], "timeouts must be > 0 seconds") }
        if limits.maxConnections < 1 || limits.bufferBytes < 4096 {
            throw fail(["limits"], "max_connections must be >= 1 and buffer_bytes >= 4096")
        }
    }
}
