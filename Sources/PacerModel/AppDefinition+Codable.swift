/// Decoding fills Marathon's defaults for absent fields and accepts Marathon fields Pacer does not
/// use (so existing specs deploy unchanged); wrong types fail with the field's path.
extension AppDefinition: Codable {
    enum CodingKeys: String, CodingKey {
        case id, cmd, args, user, env, instances, cpus, mem, disk, ports, portDefinitions, requirePorts, labels
        case constraints, healthChecks, readinessChecks, upgradeStrategy, backoffSeconds, backoffFactor
        case maxLaunchDelaySeconds, killSelection, taskKillGracePeriodSeconds, unreachableStrategy, dependencies
        case role, resourceLimits, version, versionInfo, progressDeadlineSeconds, autoRevert, kind
        // Marathon fields Pacer answers with their empty values (no containers, executors or fetched URIs).
        case acceptedResourceRoles, container, executor, uris
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard c.contains(.id) else {
            throw DecodingError.keyNotFound(CodingKeys.id, .init(codingPath: [], debugDescription: "id is required"))
        }
        self.init(id: try c.decode(PathId.self, forKey: .id))
        cmd = try c.decodeIfPresent(String.self, forKey: .cmd)
        args = try c.decodeIfPresent([String].self, forKey: .args)
        user = try c.decodeIfPresent(String.self, forKey: .user)
        for (name, value) in try c.decodeIfPresent([String: EnvValue].self, forKey: .env) ?? [:] {
            switch value {
            case .plain(let s): env[name] = s
            case .secret: envSecrets.append(name)
            }
        }
        instances = try c.decodeIfPresent(Int.self, forKey: .instances) ?? 1
        cpus = try c.decodeIfPresent(Double.self, forKey: .cpus) ?? 1
        mem = try c.decodeIfPresent(Double.self, forKey: .mem) ?? 128
        disk = try c.decodeIfPresent(Double.self, forKey: .disk) ?? 0
        if let defs = try c.decodeIfPresent([PortDefinition].self, forKey: .portDefinitions) {
            portDefinitions = defs
        } else if let ports = try c.decodeIfPresent([Int].self, forKey: .ports) {
            portDefinitions = ports.map { PortDefinition(port: $0) }
        }
        requirePorts = try c.decodeIfPresent(Bool.self, forKey: .requirePorts) ?? false
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        constraints = try c.decodeIfPresent([Constraint].self, forKey: .constraints) ?? []
        healthChecks = try c.decodeIfPresent([HealthCheck].self, forKey: .healthChecks) ?? []
        readinessChecks = try c.decodeIfPresent([ReadinessCheck].self, forKey: .readinessChecks) ?? []
        upgradeStrategy = try c.decodeIfPresent(UpgradeStrategy.self, forKey: .upgradeStrategy) ?? UpgradeStrategy()
        backoffSeconds = try c.decodeIfPresent(Double.self, forKey: .backoffSeconds) ?? 1
        backoffFactor = try c.decodeIfPresent(Double.self, forKey: .backoffFactor) ?? 1.15
        maxLaunchDelaySeconds = try c.decodeIfPresent(Double.self, forKey: .maxLaunchDelaySeconds) ?? 300
        killSelection = try c.decodeIfPresent(KillSelection.self, forKey: .killSelection) ?? .youngestFirst
        taskKillGracePeriodSeconds = try c.decodeIfPresent(Double.self, forKey: .taskKillGracePeriodSeconds)
        unreachableStrategy = try c.decodeIfPresent(UnreachableStrategy.self, forKey: .unreachableStrategy)
            ?? UnreachableStrategy()
        dependencies = try c.decodeIfPresent([PathId].self, forKey: .dependencies) ?? []
        role = try c.decodeIfPresent(String.self, forKey: .role)
        resourceLimits = try c.decodeIfPresent(ResourceLimits.self, forKey: .resourceLimits)
        kind = try c.decodeIfPresent(AppKind.self, forKey: .kind) ?? .service
        progressDeadlineSeconds = try c.decodeIfPresent(Double.self, forKey: .progressDeadlineSeconds)
        autoRevert = try c.decodeIfPresent(Bool.self, forKey: .autoRevert) ?? false
        version = try c.decodeIfPresent(String.self, forKey: .version)
        versionInfo = try c.decodeIfPresent(VersionInfo.self, forKey: .versionInfo)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encodeIfPresent(cmd, forKey: .cmd)
        try c.encode(args, forKey: .args)
        try c.encode(user, forKey: .user)
        try c.encode(env, forKey: .env)
        try c.encode(instances, forKey: .instances)
        try c.encode(cpus, forKey: .cpus)
        try c.encode(mem, forKey: .mem)
        try c.encode(disk, forKey: .disk)
        try c.encode(portDefinitions.map(\.port), forKey: .ports)
        try c.encode(portDefinitions, forKey: .portDefinitions)
        try c.encode(requirePorts, forKey: .requirePorts)
        try c.encode(labels, forKey: .labels)
        try c.encode(constraints, forKey: .constraints)
        try c.encode(healthChecks, forKey: .healthChecks)
        try c.encode(readinessChecks, forKey: .readinessChecks)
        try c.encode(upgradeStrategy, forKey: .upgradeStrategy)
        try c.encode(backoffSeconds, forKey: .backoffSeconds)
        try c.encode(backoffFactor, forKey: .backoffFactor)
        try c.encode(maxLaunchDelaySeconds, forKey: .maxLaunchDelaySeconds)
        try c.encode(killSelection, forKey: .killSelection)
        try c.encodeIfPresent(taskKillGracePeriodSeconds, forKey: .taskKillGracePeriodSeconds)
        try c.encode(unreachableStrategy, forKey: .unreachableStrategy)
        try c.encode(dependencies, forKey: .dependencies)
        try c.encodeIfPresent(role, forKey: .role)
        try c.encodeIfPresent(version, forKey: .version)
        try c.encodeIfPresent(versionInfo, forKey: .versionInfo)
        if MarathonShape.only(encoder) {
            // What Marathon always sends, so strict clients find every key they expect.
            try c.encodeNil(forKey: .acceptedResourceRoles)
            try c.encodeNil(forKey: .container)
            try c.encode("", forKey: .executor)
            try c.encode([String](), forKey: .uris)
            return
        }
        // Pacer's additions: stored, and shown only with `embed=pacer`.
        try c.encodeIfPresent(resourceLimits, forKey: .resourceLimits)
        if kind != .service { try c.encode(kind, forKey: .kind) }
        try c.encodeIfPresent(progressDeadlineSeconds, forKey: .progressDeadlineSeconds)
        if autoRevert { try c.encode(autoRevert, forKey: .autoRevert) }
    }
}

/// An `env` value: a string, or Marathon's `{"secret": "name"}` reference.
enum EnvValue: Decodable {
    case plain(String), secret
    struct Secret: Decodable { var secret: String }
    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self = .plain(s); return }
        _ = try c.decode(Secret.self)
        self = .secret
    }
}
