import Foundation
import PacerModel

/// A group the API created or gave dependencies (Marathon's explicit groups); the other groups are
/// just the paths of apps.
public struct GroupRecord: Codable, Sendable, Equatable {
    public var id: PathId
    public var dependencies: [PathId]
    public var version: String
    public init(id: PathId, dependencies: [PathId], version: String) {
        self.id = id
        self.dependencies = dependencies
        self.version = version
    }
}

/// `/v2/groups`: a group change is one deployment to Marathon's clients. Each app it touches gets
/// its own deployment as any change does (the machinery that rolls, drains and reports is per
/// app), all of them tagged with the group deployment's id; `/v2/deployments` shows them as one,
/// with the apps ordered in steps by their dependencies, and `deployment_success` for the group's
/// id is published when the last of them completes.
extension AppsCore {
    /// Every group: explicit ones and every path above an app or an explicit group, the root included.
    public var groupIds: Set<PathId> {
        var out: Set<PathId> = [.root]
        for id in Array(apps.keys) + Array(groups.keys) {
            var p = apps[id] == nil ? id : id.parent
            while !out.contains(p) {
                out.insert(p)
                p = p.parent
            }
        }
        return out
    }

    public func apps(under id: PathId) -> [AppDefinition] {
        apps.values.filter { id.contains($0.id) }.sorted { $0.id < $1.id }
    }

    /// Applies a group change: every app of the spec created or updated, apps and subgroups that
    /// a given `apps`/`groups` list leaves out removed. All or nothing: a refusal of any part
    /// (an app locked by a deployment, an invalid role, a port taken) leaves everything as it was.
    public mutating func putGroup(_ spec: GroupSpec, now: Instant, force: Bool) throws(APIError) -> (
        deploymentId: String, [AppsDirective]
    ) {
        var trial = self
        let out = try trial.applyGroup(spec, now: now, force: force)
        self = trial
        return (out.deploymentId, emitting(out.1))
    }

    /// Every app below the group scaled by `factor` (rounded up), as one deployment.
    public mutating func scaleGroup(_ id: PathId, by factor: Double, now: Instant, force: Bool) throws(APIError) -> (
        deploymentId: String, [AppsDirective]
    ) {
        guard groupIds.contains(id) else { throw APIError.notFound("Group '\(id)' does not exist") }
        var trial = self
        let changes = apps(under: id).map { app -> AppChange in
            var scaled = app
            scaled.instances = min(AppLimits().maxInstances, Int((Double(app.instances) * factor).rounded(.up)))
            return .put(scaled)
        }
        let out = try trial.apply(changes, groups: [], removedGroups: [], now: now, force: force)
        self = trial
        return (out.deploymentId, emitting(out.1))
    }

    /// The group, its apps and subgroups removed, as one deployment.
    public mutating func removeGroup(_ id: PathId, now: Instant, force: Bool) throws(APIError) -> (
        deploymentId: String, [AppsDirective]
    ) {
        guard groupIds.contains(id) else { throw APIError.notFound("Group '\(id)' does not exist") }
        var trial = self
        let removed = groups.keys.filter { id.contains($0) }
        let out = try trial.apply(
            apps(under: id).map { .remove($0.id) }, groups: [], removedGroups: removed, now: now, force: force)
        self = trial
        return (out.deploymentId, emitting(out.1))
    }

    enum AppChange {
        case put(AppDefinition)
        case remove(PathId)
    }

    private mutating func applyGroup(_ spec: GroupSpec, now: Instant, force: Bool) throws(APIError) -> (
        deploymentId: String, [AppsDirective]
    ) {
        var changes: [AppChange] = []
        var records: [GroupRecord] = []
        var removedGroups: [PathId] = []
        var wanted: Set<PathId> = []
        func walk(_ g: GroupSpec) throws(APIError) {
            if apps[g.id] != nil { throw APIError(status: 409, message: "\(g.id) is an app, not a group") }
            let stamp = Timestamp.string(now)
            if g.dependencies != nil || groups[g.id] == nil {
                records.append(
                    GroupRecord(id: g.id, dependencies: g.dependencies ?? groups[g.id]?.dependencies ?? [], version: stamp))
            }
            for app in g.apps ?? [] {
                if !groupIds.subtracting([g.id]).filter({ $0 == app.id }).isEmpty || groups[app.id] != nil {
                    throw APIError(status: 409, message: "\(app.id) is a group, not an app")
                }
                wanted.insert(app.id)
                changes.append(.put(app))
            }
            if g.apps != nil {
                for old in apps.values where old.id.parent == g.id && !(g.apps ?? []).contains(where: { $0.id == old.id }) {
                    changes.append(.remove(old.id))
                }
            }
            if let subgroups = g.groups {
                let kept = Set(subgroups.map(\.id))
                for child in groupIds where child.parent == g.id && !child.isRoot && child != g.id && !kept.contains(child) {
                    changes += apps(under: child).map { .remove($0.id) }
                    removedGroups += groups.keys.filter { child.contains($0) }
                }
                for sub in subgroups { try walk(sub) }
            }
        }
        try walk(spec)
        return try apply(
            changes.filter {
                if case .remove(let id) = $0 { return !wanted.contains(id) }
                return true
            },
            groups: records, removedGroups: removedGroups, now: now, force: force)
    }

    /// The changes as one group deployment: locks checked for every app first, then each applied.
    mutating func apply(
        _ changes: [AppChange], groups records: [GroupRecord], removedGroups: [PathId], now: Instant,
        force: Bool
    ) throws(APIError) -> (deploymentId: String, [AppsDirective]) {
        for change in changes {
            switch change {
            case .put(let app): try checkNotLocked(app.id, force: force)
            case .remove(let id): try checkNotLocked(id, force: force)
            }
        }
        let groupDeployment = nextId()
        var out: [AppsDirective] = []
        var touched: [PathId] = []
        for change in changes {
            switch change {
            case .put(let app):
                let (_, deploymentId, directives) = try putApp(app, now: now, force: force)
                out += directives
                if deploymentId != nil { touched.append(app.id) }
            case .remove(let id):
                guard apps[id] != nil else { continue }
                out += try removeApp(id, now: now, force: force).1
                touched.append(id)
            }
        }
        for id in removedGroups where groups.removeValue(forKey: id) != nil { out.append(.deleteGroup(id)) }
        for r in records {
            groups[r.id] = r
            out.append(.persistGroup(r))
        }
        // Tag what is still running; a change that finished at once (nothing to launch) is done.
        var actions: [DeploymentInfo.Action] = []
        for id in touched {
            guard let d = deployments.of(app: id) else { continue }
            deployments[d.info.id]?.group = groupDeployment
            actions += d.info.steps.flatMap(\.actions)
        }
        let info = groupInfo(groupDeployment, actions: actions, version: Timestamp.string(now))
        umbrellas[groupDeployment] = info
        record(.deploymentInfo(info))
        finishGroupDeployment(groupDeployment)
        return (groupDeployment, out)
    }

    /// One deployment of many apps: their actions in steps, each step's apps depending only on
    /// apps of earlier steps; the current step is the first with an app still deploying.
    private func groupInfo(_ id: String, actions: [DeploymentInfo.Action], version: String) -> DeploymentInfo {
        let byApp = Dictionary(actions.map { ($0.app, $0) }, uniquingKeysWith: { a, _ in a })
        var level: [String: Int] = [:]
        func depth(_ app: String, _ path: Set<String>) -> Int {
            if let l = level[app] { return l }
            let deps = (try? PathId(validating: app)).map { effectiveDependencies(of: $0) } ?? []
            let d =
                deps.map(\.description).filter { byApp[$0] != nil && !path.contains($0) }
                .map { depth($0, path.union([app])) + 1 }.max() ?? 0
            level[app] = d
            return d
        }
        let names = byApp.keys.sorted()
        for a in names { _ = depth(a, [a]) }
        let levels = (level.values.max() ?? -1) + 1
        let steps = (0..<levels).map { l in DeploymentInfo.Step(actions: names.filter { level[$0] == l }.map { byApp[$0]! }) }
        let running = Set(deployments.values.filter { $0.group == id }.map(\.appId.description))
        var info = DeploymentInfo(id: id, version: version, steps: steps)
        info.currentActions = steps.flatMap(\.actions).filter { running.contains($0.app) }.map {
            var a = $0
            a.readinessCheckResults = []
            return a
        }
        info.currentStep = (steps.firstIndex { $0.actions.contains { running.contains($0.app) } } ?? max(0, steps.count - 1)) + 1
        return info
    }

    /// An app's dependencies: its own, and the apps of the groups its groups depend on.
    func effectiveDependencies(of id: PathId) -> [PathId] {
        var deps = apps[id]?.dependencies ?? []
        for g in groups.values where g.id.contains(id) && g.id != id {
            for dep in g.dependencies {
                deps += apps.keys.filter { dep.contains($0) && !g.id.contains($0) }
                if apps[dep] != nil { deps.append(dep) }
            }
        }
        return Array(Set(deps)).sorted()
    }

    /// The last app deployment of a group change ended: the group deployment succeeded, or, when
    /// one of them was superseded or stopped (`failed`), failed.
    mutating func finishGroupDeployment(_ id: String, failed reason: String? = nil) {
        guard !deployments.values.contains(where: { $0.group == id }) else {
            if let reason { umbrellaFailures[id] = reason }
            return
        }
        let info = umbrellas.removeValue(forKey: id) ?? DeploymentInfo(id: id, version: "", steps: [])
        if let reason = reason ?? umbrellaFailures.removeValue(forKey: id) {
            record(.deploymentFailed(info, reason: reason))
        } else {
            record(.deploymentSuccess(info))
        }
    }

    /// The app deployments of a group change, for `DELETE /v2/deployments/{id}`.
    public func members(ofGroupDeployment id: String) -> [Deployment] {
        deployments.values.filter { $0.group == id }.sorted { $0.info.id < $1.info.id }
    }

    /// Deployments as Marathon's clients see them: an app's own, or one per group change.
    public func deploymentViews() -> [(info: DeploymentInfo, members: [Deployment])] {
        var single: [(DeploymentInfo, [Deployment])] = []
        var byGroup: [String: [Deployment]] = [:]
        for d in deployments.values {
            if let g = d.group { byGroup[g, default: []].append(d) } else { single.append((d.info, [d])) }
        }
        for (g, members) in byGroup {
            // The whole plan as it started (apps done stay in its steps) while this process knows
            // it; after a restart, the apps still deploying.
            let known = umbrellas[g]
            let info = groupInfo(
                g, actions: known?.steps.flatMap(\.actions) ?? members.flatMap { $0.info.steps.flatMap(\.actions) },
                version: known?.version ?? members.map(\.info.version).max() ?? "")
            single.append((info, members.sorted { $0.info.id < $1.info.id }))
        }
        return single.sorted { $0.0.id < $1.0.id }
    }
}
