/// Marathon's `healthChecks` entry, with Marathon's defaults.
public struct HealthCheck: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case http = "HTTP"
        case https = "HTTPS"
        case tcp = "TCP"
        case command = "COMMAND"
    }
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
        self.protocol = try c.value(.protocol, or: .http)
        path = try c.optional(.path)
        portIndex = try c.optional(.portIndex)
        port = try c.optional(.port)
        command = try c.optional(.command)
        gracePeriodSeconds = try c.value(.gracePeriodSeconds, or: 300)
        intervalSeconds = try c.value(.intervalSeconds, or: 60)
        timeoutSeconds = try c.value(.timeoutSeconds, or: 20)
        maxConsecutiveFailures = try c.value(.maxConsecutiveFailures, or: 3)
        ignoreHttp1xx = try c.value(.ignoreHttp1xx, or: false)
        delaySeconds = try c.value(.delaySeconds, or: 15)
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
        name = try c.value(.name, or: "readinessCheck")
        self.protocol = try c.value(.protocol, or: "HTTP")
        path = try c.value(.path, or: "/")
        portName = try c.value(.portName, or: "http-api")
        intervalSeconds = try c.value(.intervalSeconds, or: 30)
        timeoutSeconds = try c.value(.timeoutSeconds, or: 10)
        httpStatusCodesForReady = try c.value(.httpStatusCodesForReady, or: [200])
        preserveLastResponse = try c.value(.preserveLastResponse, or: false)
    }
}
