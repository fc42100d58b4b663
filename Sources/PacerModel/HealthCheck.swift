/// Marathon's `healthChecks` entry, with Marathon's defaults.
public struct HealthCheck: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case http = "HTTP", https = "HTTPS", tcp = "TCP", command = "COMMAND" }
    public struct Command: Codable, Sendable, Equatable {
        public var value: String
        public init(value: String) { self.value = value }
    }

    public var `protocol`: Kind = .http
    public var path: String?
    public var portIndex: Int?
    public var port: Int?
    public var command: Command?
    public var gracePeriodSeconds: Double = 300
    public var intervalSeconds: Double = 60
    public var timeoutSeconds: Double = 20
    public var maxConsecutiveFailures: Int = 3
    public var ignoreHttp1xx = false
    public var delaySeconds: Double = 15

    public init(kind: Kind = .http) { self.protocol = kind }

    enum CodingKeys: String, CodingKey {
        case `protocol`, path, portIndex, port, command, gracePeriodSeconds, intervalSeconds, timeoutSeconds
        case maxConsecutiveFailures, ignoreHttp1xx, delaySeconds
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.protocol = try c.decodeIfPresent(Kind.self, forKey: .protocol) ?? .http
        path = try c.decodeIfPresent(String.self, forKey: .path)
        portIndex = try c.decodeIfPresent(Int.self, forKey: .portIndex)
        port = try c.decodeIfPresent(Int.self, forKey: .port)
        command = try c.decodeIfPresent(Command.self, forKey: .command)
        gracePeriodSeconds = try c.decodeIfPresent(Double.self, forKey: .gracePeriodSeconds) ?? 300
        intervalSeconds = try c.decodeIfPresent(Double.self, forKey: .intervalSeconds) ?? 60
        timeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .timeoutSeconds) ?? 20
        maxConsecutiveFailures = try c.decodeIfPresent(Int.self, forKey: .maxConsecutiveFailures) ?? 3
        ignoreHttp1xx = try c.decodeIfPresent(Bool.self, forKey: .ignoreHttp1xx) ?? false
        delaySeconds = try c.decodeIfPresent(Double.self, forKey: .delaySeconds) ?? 15
    }
}

/// Marathon's `readinessChecks` entry.
public struct ReadinessCheck: Codable, Sendable, Equatable {
    public var name: String = "readinessCheck"
    public var `protocol`: String = "HTTP"
    public var path: String = "/"
    public var portName: String = "http-api"
    public var intervalSeconds: Double = 30
    public var timeoutSeconds: Double = 10
    public var httpStatusCodesForReady: [Int] = [200]
    public var preserveLastResponse = false

    enum CodingKeys: String, CodingKey {
        case name, `protocol`, path, portName, intervalSeconds, timeoutSeconds, httpStatusCodesForReady, preserveLastResponse
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? "readinessCheck"
        self.protocol = try c.decodeIfPresent(String.self, forKey: .protocol) ?? "HTTP"
        path = try c.decodeIfPresent(String.self, forKey: .path) ?? "/"
        portName = try c.decodeIfPresent(String.self, forKey: .portName) ?? "http-api"
        intervalSeconds = try c.decodeIfPresent(Double.self, forKey: .intervalSeconds) ?? 30
        timeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .timeoutSeconds) ?? 10
        httpStatusCodesForReady = try c.decodeIfPresent([Int].self, forKey: .httpStatusCodesForReady) ?? [200]
        preserveLastResponse = try c.decodeIfPresent(Bool.self, forKey: .preserveLastResponse) ?? false
    }
}
