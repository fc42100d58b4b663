import Foundation
import PacerModel

extension AppsCore {
    /// 409 while another deployment changes the app, unless forced (which supersedes it).
    public func checkNotLocked(_ id: PathId, force: Bool) throws(APIError) {
        if !force, let d = deployment(for: id) { throw APIError.locked(appId: id, deploymentId: d.info.id) }
    }

    /// Creates or updates an app (already validated). Returns the stored spec, its deployment id and
    /// the directives; an identical spec changes nothing and restarts nothing.
    public mutating func putApp(_ spec: AppDefinition, now: Instant, force: Bool) throws(APIError)
        -> (app: AppDefinition, deploymentId: String?, [AppsDirective])
    {
        try checkNotLocked(spec.id, force: force)
        if let role = spec.role, !settings.roles.contains(role) {
            throw APIError.invalid([
                FieldError(
                    path: "/role",
                    "role '\(role)' is not served by this framework (it serves \(settings.roles.joined(separator: ", ")); start it with --roles)"
                )
            ])
        }
        let previous = apps[spec.id]
        var app = try ServicePorts.assign(spec, previous: previous, others: Array(apps.values), range: settings.servicePorts)
        let stamp = Timestamp.string(now)
        if let previous {
            var unchanged = app
            unchanged.version = previous.version
            unchanged.versionInfo = previous.versionInfo
            if unchanged == previous { return (previous, nil, []) }
        }
        let configChanged = previous.map { !app.sameConfiguration(as: $0) } ?? true
        // Going back to the configuration of the last healthy deployment keeps its version, so the
        // tasks still running it count as current and are not restarted by a rollback.
        let restored = lastGood[app.id].flatMap { app.sameConfiguration(as: $0) ? $0.versionInfo?.lastConfigChangeAt : nil }
        app.version = stamp
        app.versionInfo = VersionInfo(
            lastScalingAt: stamp,
            lastConfigChangeAt: configChanged ? (restored ?? stamp) : (previous?.versionInfo?.lastConfigChangeAt ?? stamp))
        if configChanged {
            delays[app.id] = nil
            misfits[app.id] = nil  // the old spec's reasons say nothing about the new one
        }
        apps[app.id] = app
        // A forced change ends a canary: its tasks become old-version tasks the upgrade replaces.
        let canaryEnded = canaries.removeValue(forKey: app.id) != nil
        startDeployment(
            app, action: previous == nil ? "StartApplication" : configChanged ? "RestartApplication" : "ScaleApplication",
            now: now)
        let deploymentId = deployment(for: app.id)?.info.id
        var out: [AppsDirective] = (canaryEnded ? [.deleteCanary(app.id)] : []) + [.persistApp(app)]
        out += enforcePlans(now: now, of: [app.id])
        if plan(app, now: now).launch > 0 { out.append(.revive) }
        completeDeployments(of: [app.id])
        return (app, deploymentId, emitting(out))
    }

    /// Restarts every task of the app by giving it a new config version (Marathon's /restart).
    public mutating func restartApp(_ id: PathId, now: Instant, force: Bool) throws(APIError)
        -> (app: AppDefinition, deploymentId: String?, [AppsDirective])
    {
        guard var app = apps[id] else { throw APIError.notFound("App '\(id)' does not exist") }
        try checkNotLocked(id, force: force)
        let stamp = Timestamp.string(now)
        app.version = stamp
        app.versionInfo = VersionInfo(lastScalingAt: stamp, lastConfigChangeAt: stamp)
        apps[id] = app
        let canaryEnded = canaries.removeValue(forKey: id) != nil
        startDeployment(app, action: "RestartApplication", now: now)
        var out: [AppsDirective] = (canaryEnded ? [.deleteCanary(id)] : []) + [.persistApp(app)]
        out += enforcePlans(now: now, of: [id])
        if plan(app, now: now).launch > 0 { out.append(.revive) }
        return (app, deployment(for: id)?.info.id, emitting(out))
    }

    public mutating func removeApp(_ id: PathId, now: Instant, force: Bool) throws(APIError) -> (
        deploymentId: String, [AppsDirective]
    ) {
        guard let app = apps[id] else { throw APIError.notFound("App '\(id)' does not exist") }
        try checkNotLocked(id, force: force)
        apps[id] = nil
        delays[id] = nil
        let canaryEnded = canaries.removeValue(forKey: id) != nil
        record(.appTerminated(id))
        startDeployment(app, action: "StopApplication", now: now)
        let deploymentId = deployment(for: id)!.info.id
        var out: [AppsDirective] = (canaryEnded ? [.deleteCanary(id)] : []) + [.deleteApp(id)]
        for t in tasks(of: id) { out += requestKill(t.id, now: now) }
        completeDeployments(of: [id])
        return (deploymentId, emitting(out))
    }

    /// Kills tasks; with `scale`, the app's instance count drops by the number killed, so none is replaced.
    public mutating func killTasks(_ ids: [String], scale: Bool, now: Instant) -> (
        killed: [TaskRecord], deploymentId: String?, [AppsDirective]
    ) {
        let found = ids.compactMap { tasks[$0] }.filter(\.isActive)
        var out: [AppsDirective] = []
        var deploymentId: String?
        if scale {
            for (appId, list) in Dictionary(grouping: found, by: \.appId).sorted(by: { $0.key < $1.key }) {
                guard var app = apps[appId] else { continue }
                let stamp = Timestamp.string(now)
                app.instances = max(0, app.instances - list.filter { leaving[$0.id] == nil }.count)
                app.version = stamp
                app.versionInfo?.lastScalingAt = stamp
                apps[appId] = app
                startDeployment(app, action: "ScaleApplication", now: now)
                deploymentId = deployment(for: appId)?.info.id
                out.append(.persistApp(app))
            }
        }
        for t in found { out += requestKill(t.id, now: now) }
        if !scale && hasDemand(now: now, among: Set(found.map(\.appId))) { out.append(.revive) }
        return (found, deploymentId, emitting(out))
    }

    /// Marathon's `/v2/queue` view: apps waiting to launch, with their backoff.
    /// An app with instances to launch, as `/v2/queue` shows it.
    public struct Queued: Sendable {
        public var app: AppDefinition
        public var count: Int
        public var delay: LaunchDelay?
        /// Since when it waits: its deployment's start (else its version's).
        public var since: Date?
        public var offers: Misfits
    }

    public func queue(now: Instant) -> [Queued] {
        apps.values.sorted { $0.id < $1.id }.compactMap { app in
            let n = plan(app, now: now).launch
            guard n > 0 else { return nil }
            return Queued(
                app: app, count: n, delay: delays[app.id].flatMap { $0.until > now ? $0 : nil },
                since: deployments.of(app: app.id)?.startedAt, offers: misfits[app.id] ?? Misfits())
        }
    }

    public mutating func resetDelay(_ id: PathId) -> [AppsDirective] {
        guard delays.removeValue(forKey: id) != nil else { return [] }
        return [.revive]
    }
}
