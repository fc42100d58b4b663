import Foundation
import PacerModel

/// A canary: `instances` tasks of a new spec run beside all of the app's current tasks (load
/// balancers give them their share of traffic) until an operator promotes the spec (a normal
/// rolling upgrade follows, the canaries already counting as new) or aborts it (they are drained
/// and killed, the app is unchanged).
public struct Canary: Sendable, Equatable, Codable {
    public var spec: AppDefinition
    public var instances: Int
    public var deploymentId: String
    public var version: String { spec.configVersion }
}

extension AppsCore {
    public mutating func startCanary(_ spec: AppDefinition, instances: Int, now: Instant, force: Bool) throws(APIError)
        -> (Canary, [AppsDirective])
    {
        guard let current = apps[spec.id] else { throw APIError.notFound("App '\(spec.id)' does not exist") }
        try checkNotLocked(spec.id, force: force)
        guard instances >= 1 else { throw APIError(status: 422, message: "a canary needs instances >= 1") }
        guard !spec.sameConfiguration(as: current) else {
            throw APIError(status: 422, message: "the canary spec is the app's current configuration; change something")
        }
        var canarySpec = try ServicePorts.assign(
            spec, previous: current, others: Array(apps.values), range: settings.servicePorts)
        var stamp = Timestamp.string(now)
        // The canary's tasks are told apart by version: it must differ from the app's (same millisecond).
        if stamp == current.versionInfo?.lastConfigChangeAt || stamp == current.version {
            stamp = Timestamp.string(now.addingTimeInterval(0.001))
        }
        canarySpec.version = stamp
        canarySpec.versionInfo = VersionInfo(lastScalingAt: stamp, lastConfigChangeAt: stamp)
        startDeployment(current, action: "Canary", now: now)
        guard let id = deployment(for: spec.id)?.info.id else { throw APIError(status: 500, message: "no deployment") }
        let canary = Canary(spec: canarySpec, instances: instances, deploymentId: id)
        canaries[spec.id] = canary
        return (canary, emitting([.persistCanary(canary), .revive]))
    }

    /// The canary's spec becomes the app's: a rolling upgrade to it starts (its own deployment).
    public mutating func promoteCanary(deploymentId: String, now: Instant) throws(APIError) -> (String?, [AppsDirective]) {
        let canary = try canary(deploymentId)
        canaries[canary.spec.id] = nil
        if let d = deployments.removeValue(forKey: deploymentId) { record(.deploymentSuccess(d.info)) }
        var app = canary.spec
        app.version = Timestamp.string(now)
        apps[app.id] = app
        startDeployment(app, action: "RestartApplication", now: now)
        var out: [AppsDirective] = [.deleteCanary(app.id), .persistApp(app)]
        out += enforcePlans(now: now, of: [app.id])
        if plan(app, now: now).launch > 0 { out.append(.revive) }
        return (deployment(for: app.id)?.info.id, emitting(out))
    }

    /// The canary's tasks are drained and killed; the app keeps its spec.
    public mutating func abortCanary(deploymentId: String, now: Instant) throws(APIError) -> [AppsDirective] {
        let canary = try canary(deploymentId)
        canaries[canary.spec.id] = nil
        if let d = deployments.removeValue(forKey: deploymentId) { record(.deploymentFailed(d.info, reason: "canary aborted")) }
        var out: [AppsDirective] = [.deleteCanary(canary.spec.id)]
        for t in tasks(of: canary.spec.id) where t.version == canary.version { out += requestKill(t.id, now: now) }
        return emitting(out)
    }

    func canary(_ deploymentId: String) throws(APIError) -> Canary {
        guard let c = canaries.values.first(where: { $0.deploymentId == deploymentId }) else {
            throw APIError.notFound("no canary deployment '\(deploymentId)'")
        }
        return c
    }

    /// Live tasks of the canary (not counted among the app's instances).
    func liveCanaries(_ canary: Canary, now: Instant?) -> [TaskRecord] {
        tasks.of(app: canary.spec.id).filter { $0.isActive && leaving[$0.id] == nil && $0.version == canary.version }
    }

    /// How many canary tasks to start now.
    func canaryLaunch(_ appId: PathId, now: Instant) -> Int {
        guard let c = canaries[appId] else { return 0 }
        return max(0, c.instances - liveCanaries(c, now: now).count)
    }
}
