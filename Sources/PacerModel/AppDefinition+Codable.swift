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
        cmd = try c.optional(.cmd)
        args = try c.optional(.args)
        user = try c.optional(.user)
        for (name, value) in try c.value(.env, or: [String: EnvValue]()) {
            switch value {
            case .plain(let s): env[name] = s
            case .secret: envSecrets.append(name)
            }
        }
        instances = try c.value(.instances, or: 1)
        cpus = try c.value(.cpus, or: 1)
        mem = try c.value(.mem, or: 128)
        disk = try c.value(.disk, or: 0)
        if let defs: [PortDefinition] = try c.optional(.portDefinitions) {
            portDefinitions = defs
        } else if let ports: [Int] = try c.optional(.ports) {
            portDefinitions = ports.map { PortDefinition(port: $0) }
        }
        requirePorts = try c.value(.requirePorts, or: false)
        labels = try c.value(.labels, or: [:])
        constraints = try c.value(.constraints, or: [])
        healthChecks = try c.value(.healthChecks, or: [])
        readinessChecks = try c.value(.readinessChecks, or: [])
        upgradeStrategy = try c.value(.upgradeStrategy, or: UpgradeStrategy())
        backoffSeconds = try c.value(.backoffSeconds, or: 1)
        backoffFactor = try c.value(.backoffFactor, or: 1.15)
        maxLaunchDelaySeconds = try c.value(.maxLaunchDelaySeconds, or: 300)
        killSelection = try c.value(.killSelection, or: .youngestFirst)
        taskKillGracePeriodSeconds = try c.optional(.taskKillGracePeriodSeconds)
        unreachableStrategy = try c.value(.unreachableStrategy, or: UnreachableStrategy())
        dependencies = try c.value(.dependencies, or: [])
        role = try c.optional(.role)
        resourceLimits = try c.optional(.resourceLimits)
        kind = try c.value(.kind, or: .service)
        progressDeadlineSeconds = try c.optional(.progressDeadlineSeconds)
        autoRevert = try c.value(.autoRevert, or: false)
        version = try c.optional(.version)
        versionInfo = try c.optional(.versionInfo)
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
    case plain(String)
    case secret
    struct Secret: Decodable { var secret: String }
    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            self = .plain(s)
            return
        }
        _ = try c.decode(Secret.self)
        self = .secret
    }
}
