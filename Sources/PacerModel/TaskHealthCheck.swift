/// A health check as the agent runs it: the app's check with its port resolved to one of the
/// task's own host ports, so a check can never be aimed at another host or port (A11).
public struct TaskHealthCheck: Codable, Sendable, Equatable {
    public var kind: HealthCheck.Kind
    public var path: String?
    /// A host port of the task (nil for COMMAND checks).
    public var port: Int?
    public var command: String?
    public var gracePeriodSeconds: Double
    public var intervalSeconds: Double
    public var timeoutSeconds: Double
    public var maxConsecutiveFailures: Int
    /// `ignoreHttp1xx` (named without digits: the snake_case wire format cannot round-trip them).
    public var ignoreInformational: Bool
    public var delaySeconds: Double

    public init(_ check: HealthCheck, taskPorts: [Int]) {
        kind = check.protocol
        path = check.path
        if check.protocol == .command {
            port = nil
        } else if let explicit = check.port {
            port = taskPorts.contains(explicit) ? explicit : nil
        } else {
            port = taskPorts.indices.contains(check.portIndex ?? 0) ? taskPorts[check.portIndex ?? 0] : nil
        }
        command = check.command?.value
        gracePeriodSeconds = check.gracePeriodSeconds
        intervalSeconds = check.intervalSeconds
        timeoutSeconds = check.timeoutSeconds
        maxConsecutiveFailures = check.maxConsecutiveFailures
        ignoreInformational = check.ignoreHttp1xx
        delaySeconds = check.delaySeconds
    }
}

/// A readiness check as the agent runs it: HTTP against the task's port named `portName`, until
/// one of the ready status codes answers. Gates deployments, not traffic after that.
public struct TaskReadinessCheck: Codable, Sendable, Equatable {
    public var name: String
    public var https: Bool
    public var path: String
    /// The task's host port for `portName`; nil when the app has no port of that name.
    public var port: Int?
    public var intervalSeconds: Double
    public var timeoutSeconds: Double
    public var readyStatusCodes: [Int]

    public init(_ check: ReadinessCheck, portNames: [String?], taskPorts: [Int]) {
        name = check.name
        https = check.protocol.uppercased() == "HTTPS"
        path = check.path
        let index = portNames.firstIndex { $0 == check.portName }
        port = index.flatMap { taskPorts.indices.contains($0) ? taskPorts[$0] : nil }
        intervalSeconds = check.intervalSeconds
        timeoutSeconds = check.timeoutSeconds
        readyStatusCodes = check.httpStatusCodesForReady
    }
}
