/// Bounds on every number and list in a spec, so no input can ask for the absurd.
public struct AppLimits: Sendable {
    public var maxInstances = 10_000
    public var maxCpus = 1024.0
    public var maxMem = 4_194_304.0  // MiB: 4 TiB
    public var maxDisk = 1e9
    public var maxCmdBytes = 65_536
    public var maxEnvVars = 1_000
    public var maxLabels = 1_000
    public var maxPorts = 100
    public var maxGraceSeconds = 3_600.0
    public var maxBackoffSeconds = 86_400.0
    public init() {}
}

extension AppDefinition {
    /// Every problem with the spec, each with its JSON path. Empty means valid.
    public func validate(limits: AppLimits = AppLimits()) -> [FieldError] {
        var errors: [FieldError] = []
        func check(_ ok: Bool, _ path: String, _ message: @autoclosure () -> String) {
            if !ok { errors.append(FieldError(path: path, message())) }
        }
        func range(_ v: Double, _ lo: Double, _ hi: Double, _ path: String, exclusiveLow: Bool = false) {
            let okLow = exclusiveLow ? v > lo : v >= lo
            check(
                v.isFinite && okLow && v <= hi, path,
                "must be a number \(exclusiveLow ? ">" : ">=") \(lo) and <= \(hi), got \(v)")
        }
        check(cmd != nil || args != nil, "/cmd", "one of cmd or args must be set")
        check(!(cmd != nil && args != nil), "/cmd", "set cmd or args, not both")
        if let cmd {
            check(
                !cmd.isEmpty && cmd.utf8.count <= limits.maxCmdBytes, "/cmd",
                "must be 1 to \(limits.maxCmdBytes) bytes")
            check(!cmd.utf8.contains(0), "/cmd", "must not contain NUL")
        }
        if let args {
            check(!args.isEmpty && args.allSatisfy { !$0.utf8.contains(0) }, "/args", "must be a non-empty list without NUL")
        }
        check(
            instances >= 0 && instances <= limits.maxInstances, "/instances",
            "must be between 0 and \(limits.maxInstances), got \(instances)")
        range(cpus, 0, limits.maxCpus, "/cpus", exclusiveLow: true)
        range(mem, 0, limits.maxMem, "/mem", exclusiveLow: true)
        range(disk, 0, limits.maxDisk, "/disk")
        check(env.count <= limits.maxEnvVars, "/env", "at most \(limits.maxEnvVars) variables")
        for (k, v) in env where k.isEmpty || k.contains("=") || k.utf8.contains(0) || v.utf8.contains(0) {
            check(false, "/env/\(k)", "variable names must be non-empty without '=' or NUL, values without NUL")
        }
        for name in envSecrets.sorted() {
            check(
                false, "/env/\(name)",
                "secret references are not supported: Pacer has no secret store; pass the value, or read it in the task")
        }
        check(labels.count <= limits.maxLabels, "/labels", "at most \(limits.maxLabels) labels")
        errors += validatePorts(limits: limits)
        range(backoffSeconds, 0, limits.maxBackoffSeconds, "/backoffSeconds")
        range(backoffFactor, 1, 100, "/backoffFactor")
        range(maxLaunchDelaySeconds, 0, limits.maxBackoffSeconds, "/maxLaunchDelaySeconds")
        if let grace = taskKillGracePeriodSeconds { range(grace, 0, limits.maxGraceSeconds, "/taskKillGracePeriodSeconds") }
        range(upgradeStrategy.minimumHealthCapacity, 0, 1, "/upgradeStrategy/minimumHealthCapacity")
        range(upgradeStrategy.maximumOverCapacity, 0, 1, "/upgradeStrategy/maximumOverCapacity")
        range(unreachableStrategy.inactiveAfterSeconds, 0, limits.maxBackoffSeconds, "/unreachableStrategy/inactiveAfterSeconds")
        range(unreachableStrategy.expungeAfterSeconds, 0, limits.maxBackoffSeconds, "/unreachableStrategy/expungeAfterSeconds")
        for (i, c) in constraints.enumerated() { errors += c.validate(path: "/constraints/\(i)") }
        for (i, h) in healthChecks.enumerated() { errors += validate(h, path: "/healthChecks/\(i)") }
        for (i, r) in readinessChecks.enumerated() {
            check(
                portDefinitions.contains { $0.name == r.portName }, "/readinessChecks/\(i)/portName",
                "names no port of this app (port names: \(portDefinitions.compactMap(\.name).joined(separator: ", ")))")
            check(
                r.intervalSeconds > 0 && r.timeoutSeconds > 0, "/readinessChecks/\(i)",
                "intervalSeconds and timeoutSeconds must be > 0")
        }
        check(!dependencies.contains(id), "/dependencies", "an app cannot depend on itself")
        if let deadline = progressDeadlineSeconds { range(deadline, 1, limits.maxBackoffSeconds, "/progressDeadlineSeconds") }
        if let role { check(PathId.isValidSegment(role) || role == "*", "/role", "must be '*' or a lowercase name") }
        return errors
    }

    private func validatePorts(limits: AppLimits) -> [FieldError] {
        var errors: [FieldError] = []
        if portDefinitions.count > limits.maxPorts {
            errors.append(FieldError(path: "/portDefinitions", "at most \(limits.maxPorts) ports"))
        }
        var seen = Set<Int>()
        for (i, p) in portDefinitions.enumerated() {
            if p.port < 0 || p.port > 65535 {
                errors.append(FieldError(path: "/portDefinitions/\(i)/port", "must be between 0 and 65535, got \(p.port)"))
            } else if p.port != 0 && !seen.insert(p.port).inserted {
                errors.append(FieldError(path: "/portDefinitions/\(i)/port", "port \(p.port) is listed twice"))
            }
            if !["tcp", "udp", "udp,tcp", "tcp,udp"].contains(p.protocol) {
                errors.append(FieldError(path: "/portDefinitions/\(i)/protocol", "must be tcp, udp or udp,tcp"))
            }
        }
        if requirePorts && portDefinitions.contains(where: { $0.port == 0 }) {
            errors.append(FieldError(path: "/requirePorts", "requirePorts needs every port to be set (not 0)"))
        }
        return errors
    }

    private func validate(_ h: HealthCheck, path: String) -> [FieldError] {
        var errors: [FieldError] = []
        if h.protocol == .command {
            if h.command?.value.isEmpty != false {
                errors.append(FieldError(path: path + "/command", "COMMAND checks need a command"))
            }
        } else if h.port == nil {
            let index = h.portIndex ?? 0
            if index < 0 || index >= portDefinitions.count {
                errors.append(FieldError(path: path + "/portIndex", "must name one of the app's \(portDefinitions.count) ports"))
            }
        } else if let port = h.port, !(1...65535).contains(port) {
            errors.append(FieldError(path: path + "/port", "must be between 1 and 65535"))
        }
        for (name, v) in [("intervalSeconds", h.intervalSeconds), ("timeoutSeconds", h.timeoutSeconds)]
        where !(v > 0 && v <= 86_400) {
            errors.append(FieldError(path: "\(path)/\(name)", "must be > 0 and <= 86400"))
        }
        if !(h.gracePeriodSeconds >= 0 && h.gracePeriodSeconds <= 86_400) {
            errors.append(FieldError(path: path + "/gracePeriodSeconds", "must be between 0 and 86400"))
        }
        if h.maxConsecutiveFailures < 0 { errors.append(FieldError(path: path + "/maxConsecutiveFailures", "must be >= 0")) }
        return errors
    }
}

extension Constraint {
    func validate(path: String) -> [FieldError] {
        func fail(_ m: String) -> [FieldError] { [FieldError(path: path, m)] }
        if field.isEmpty { return fail("the constraint's field must not be empty") }
        switch op {
        case .unique: return value == nil ? [] : fail("UNIQUE takes no value")
        case .cluster: return []
        case .groupBy:
            guard let value else { return [] }
            return (Int(value).map { $0 >= 1 } ?? false) ? [] : fail("GROUP_BY takes a number of groups >= 1")
        case .maxPer:
            return (value.flatMap(Int.init).map { $0 >= 1 } ?? false) ? [] : fail("MAX_PER takes a number >= 1")
        case .like, .unlike:
            guard let value, !value.isEmpty else { return fail("\(op.rawValue) takes a regular expression") }
            return (try? Regex(value)) == nil ? fail("'\(value)' is not a valid regular expression") : []
        }
    }
}
