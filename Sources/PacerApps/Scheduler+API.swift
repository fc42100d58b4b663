import Foundation
import PacerAppsCore
import PacerModel
import PacerServerKit

/// What the Marathon API asks of the scheduler. Every change is validated, then applied to the
/// core, then persisted (fsync) — and only then answered.
extension Scheduler {
    /// One REVIVE for any number of requests while one is on its way, and one more after it if
    /// requests came meanwhile: a burst of a thousand POSTs sent a thousand REVIVEs at once and ran
    /// the connection pool dry (each makes the master re-offer every agent). Spaced by the size of
    /// the cluster (`RevivePacing`).
    func reviveCoalesced() async {
        guard !reviving else {
            reviveAgain = true
            return
        }
        reviving = true
        defer { reviving = false }
        repeat {
            reviveAgain = false
            let wait = revivePacing.wait(now: SteadyClock.instant, agents: agentURLs.count)
            if wait > .zero { try? await Task.sleep(for: wait) }  // requests meanwhile join this one
            do { try await execute(.revive) } catch {
                logger.warning("REVIVE failed; the framework asks again while instances wait", metadata: ["error": "\(error)"])
            }
        } while reviveAgain
    }

    /// Marathon's `api_post_event`: an API request changed an app. (Only the bus is involved: no
    /// turn of the scheduler is needed.)
    nonisolated func announce(_ a: Announcement) async {
        let listeners = await bus.listeners
        guard listeners.marathon || listeners.pacer else { return }
        var payload = EventPayload("api_post_event", at: Timestamp.string(SteadyClock.now))
        payload.clientIp = ""
        payload.uri = a.uri
        payload.appDefinition = a.app.redactingSecrets()  // events go to every subscriber: no secrets
        var publication = EventEncoding.publication(payload, for: listeners)
        publication.apps = [a.app.id]
        await bus.publish([publication])
    }

    /// `alsoComing`: apps created by the same request (a group's), which dependencies may name.
    func validate(_ app: AppDefinition, alsoComing: Set<PathId> = []) throws(APIError) {
        var errors = app.validate()
        for (i, dep) in app.dependencies.enumerated() where core.apps[dep] == nil && !alsoComing.contains(dep) {
            errors.append(FieldError(path: "/dependencies/\(i)", "app \(dep) does not exist"))
        }
        if let big = largestAgent {
            for (path, need, have) in [("/cpus", app.cpus, big.cpus), ("/mem", app.mem, big.mem), ("/disk", app.disk, big.disk)]
            where need > have {
                errors.append(FieldError(path: path, "no agent can ever fit \(need): the largest agent has \(have)"))
            }
        }
        if !errors.isEmpty { throw .invalid(errors) }
    }

    nonisolated func create(_ spec: AppDefinition, force: Bool) async throws(APIError) -> AppStatus {
        try await applying { s throws(APIError) in
            try s.validate(spec)
            guard s.core.apps[spec.id] == nil else {
                throw APIError(status: 409, message: "An app with id [\(spec.id)] already exists.")
            }
            let (app, _, directives) = try s.core.putApp(spec, now: SteadyClock.instant, force: force)
            return (s.view().status(of: app, embedTasks: false), directives, Announcement(app: app, uri: "/v2/apps"))
        }
    }

    /// PUT/PATCH: the body's fields replace the stored ones (Marathon's AppUpdate); a missing app is created.
    nonisolated func update(_ id: PathId, body: Data, force: Bool) async throws(APIError) -> (
        created: Bool, DeploymentResult
    ) {
        try await applying { s throws(APIError) in
            let previous = s.core.apps[id]
            let spec = try AppMerge.merge(body: body, onto: previous, id: id)
            try s.validate(spec)
            let (app, deploymentId, directives) = try s.core.putApp(spec, now: SteadyClock.instant, force: force)
            let result = DeploymentResult(
                version: app.version ?? "", deploymentId: deploymentId ?? UUID().uuidString.lowercased())
            return ((previous == nil, result), directives, deploymentId.map { _ in Announcement(app: app, uri: "/v2/apps\(id)") })
        }
    }

    /// A canary of a changed spec (merged onto the current one, like PUT) beside the app.
    func canary(_ id: PathId, body: Data, instances: Int, force: Bool) async throws(APIError) -> DeploymentResult {
        guard let current = core.apps[id] else { throw APIError.notFound("App '\(id)' does not exist") }
        let spec = try AppMerge.merge(body: body, onto: current, id: id)
        try validate(spec)
        let (canary, directives) = try core.startCanary(spec, instances: instances, now: SteadyClock.instant, force: force)
        try await commit(directives)
        return DeploymentResult(version: canary.spec.version ?? "", deploymentId: canary.deploymentId)
    }

    func promote(_ deploymentId: String) async throws(APIError) -> DeploymentResult {
        try requireChange(deployment: deploymentId)
        let (next, directives) = try core.promoteCanary(deploymentId: deploymentId, now: SteadyClock.instant)
        try await commit(directives)
        return DeploymentResult(version: Timestamp.string(SteadyClock.now), deploymentId: next ?? "")
    }

    func abortCanary(_ deploymentId: String) async throws(APIError) {
        try requireChange(deployment: deploymentId)
        try await commit(try core.abortCanary(deploymentId: deploymentId, now: SteadyClock.instant))
    }

    nonisolated func remove(_ id: PathId, force: Bool) async throws(APIError) -> DeploymentResult {
        try await applying { s throws(APIError) in
            let (deploymentId, directives) = try s.core.removeApp(id, now: SteadyClock.instant, force: force)
            return (DeploymentResult(version: Timestamp.string(SteadyClock.now), deploymentId: deploymentId), directives, nil)
        }
    }

    nonisolated func restart(_ id: PathId, force: Bool) async throws(APIError) -> DeploymentResult {
        try await applying { s throws(APIError) in
            let (app, deploymentId, directives) = try s.core.restartApp(id, now: SteadyClock.instant, force: force)
            return (DeploymentResult(version: app.version ?? "", deploymentId: deploymentId ?? ""), directives, nil)
        }
    }

    nonisolated func killTasks(_ ids: [String], scale: Bool) async throws(APIError) -> (
        tasks: [MarathonTask], DeploymentResult?
    ) {
        try await applying { s throws(APIError) in
            try RequestPrincipal.requireChange(ids.compactMap { s.core.tasks[$0]?.appId })
            let (killed, deploymentId, directives) = s.core.killTasks(ids, scale: scale, now: SteadyClock.instant)
            let result = deploymentId.map { DeploymentResult(version: Timestamp.string(SteadyClock.now), deploymentId: $0) }
            return ((killed.map { MarathonTask($0) }, result), directives, nil)
        }
    }

    func app(_ id: PathId) -> AppDefinition? { core.apps[id] }

    /// What the read endpoints need, taken in one hop: the core's collections are values, so this
    /// is a few reference copies, and the answer (JSON for 50,000 tasks) is built outside the
    /// actor instead of holding up placement and status updates for its length.
    func view() -> ReadView {
        ReadView(apps: core.apps, tasks: core.tasks, deployments: core.deployments, lastFailure: core.lastFailure)
    }

    /// The view for a large read whose caller still waits (`CallerDeadline`): a reader that gave
    /// up while queued here gets 504, not a 50,000-task answer built for nobody.
    func viewForWaitingCaller() throws(APIError) -> ReadView {
        try CallerDeadline.check()
        return view()
    }

    func deployments() -> [DeploymentInfo] { core.deployments.values.map(\.info).sorted { $0.id < $1.id } }

    /// Deployments in Marathon's shape, with what each waits on under `pacer` when asked for.
    func deployments(pacer: Bool) -> [PacerExtended<DeploymentInfo, DeploymentProgress>] {
        let now = SteadyClock.instant
        // A group change's app deployments show as one (Marathon's clients follow its id).
        return core.deploymentViews().map { info, members in
            PacerExtended(
                info,
                pacer: pacer
                    ? DeploymentProgress(
                        waitingFor: members.map { core.waitingFor($0, now: now) }.joined(separator: "; "),
                        stalled: members.contains { $0.stalled == true },
                        startedAt: members.compactMap(\.startedAt).min().map(Timestamp.string),
                        lastProgressAt: members.compactMap(\.lastProgressAt).max().map(Timestamp.string)) : nil)
        }
    }

    /// Without `force`: roll the app back to its previous version (itself a deployment). With it: just stop tracking.
    /// 403 unless the request may change every app the deployment changes.
    private func requireChange(deployment id: String) throws(APIError) {
        let members = core.members(ofGroupDeployment: id).map(\.appId)
        try RequestPrincipal.requireChange(members + [core.deployments[id]?.appId].compactMap { $0 })
    }

    func cancelDeployment(_ id: String, force: Bool) async throws(APIError) -> DeploymentResult? {
        try requireChange(deployment: id)
        let members = core.members(ofGroupDeployment: id)
        if !members.isEmpty {
            // A group change: each of its apps rolled back (or, forced, no longer tracked).
            var last: DeploymentResult?
            for m in members { last = try await cancelDeployment(m.info.id, force: force) }
            return last
        }
        guard let d = core.deployments[id] else { throw APIError.notFound("DeploymentPlan \(id) does not exist") }
        if core.canaries[d.appId]?.deploymentId == id {
            // Cancelling a canary is aborting it: the app's own spec never changed.
            try await abortCanary(id)
            return nil
        }
        if force {
            try await commit(core.forgetDeployment(id))
            return nil
        }
        let versions = (try? await repo.versions(of: d.appId)) ?? [:]
        let current = core.apps[d.appId]?.version ?? ""
        if let previous = versions.keys.filter({ $0 < current }).max().flatMap({ versions[$0] }) {
            let (app, deploymentId, directives) = try core.putApp(previous, now: SteadyClock.instant, force: true)
            try await commit(directives)
            return DeploymentResult(version: app.version ?? "", deploymentId: deploymentId ?? "")
        }
        return try await remove(d.appId, force: true)
    }

    func versions(_ id: PathId) async throws(APIError) -> [String: AppDefinition] {
        guard core.apps[id] != nil else { throw APIError.notFound("App '\(id)' does not exist") }
        do { return try await repo.versions(of: id) } catch { throw APIError(status: 503, message: "store: \(error)") }
    }

    func queue() -> [QueueItem] {
        let now = SteadyClock.instant
        return core.queue(now: now).map { QueueItem($0, now: now.date) }
    }

    func resetDelay(_ id: PathId) async { await execute(core.resetDelay(id)) }
}
