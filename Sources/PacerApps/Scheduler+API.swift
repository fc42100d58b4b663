import Foundation
import PacerAppsCore
import PacerModel
import PacerServerKit

/// What the Marathon API asks of the scheduler. Every change is validated, then applied to the
/// core, then persisted (fsync) — and only then answered.
extension Scheduler {
    /// Runs directives and turns a store failure into 503, so a client never sees a write
    /// acknowledged that is not on disk. Once the change is stored, a call to the master that fails
    /// (a REVIVE, a KILL) is not the client's failure: the core asks again on its own (starvation
    /// revives, kill retries), so the answer stays the success it is.
    func commit(_ batch: [AppsDirective]) async throws(APIError) {
        let (directives, events) = Self.separate(batch)
        var failure: (any Error)?
        // The answer waits for the writes, not for the master: its REVIVE and KILL calls go out
        // once the writes hold, after the answer. (Waiting for a master busy placing thousands of
        // tasks made POST /v2/apps p99 0.4 s at 2,000 agents; a lost call is retried by the core.)
        var calls: [AppsDirective] = []
        for d in directives where failure == nil {
            if !d.isStoreWrite {
                calls.append(d)
                continue
            }
            do { try await execute(d) } catch { failure = error }
        }
        if failure == nil && !calls.isEmpty {
            sendInBackground(calls.filter(Self.sentInBackground))
            calls.removeAll(where: Self.sentInBackground)
        }
        if failure == nil && !calls.isEmpty {
            Task {
                for d in calls {
                    if d == .revive {
                        await self.reviveCoalesced()
                        continue
                    }
                    do { try await self.execute(d) } catch {
                        self.logger.warning(
                            "call to the master failed after the change was stored; it will be retried",
                            metadata: ["error": "\(error)"])
                    }
                }
            }
        }
        await publish(events)
        if let failure {
            logger.error("write failed", metadata: ["error": "\(failure)"])
            throw APIError(
                status: 503, message: "the state store refused the write: \(failure). Nothing was acknowledged; retry.")
        }
    }

    /// One REVIVE for any number of requests while one is on its way, and one more after it if
    /// requests came meanwhile: a burst of a thousand POSTs sent a thousand REVIVEs at once and ran
    /// the connection pool dry (each makes the master re-offer every agent).
    func reviveCoalesced() async {
        guard !reviving else {
            reviveAgain = true
            return
        }
        reviving = true
        defer { reviving = false }
        repeat {
            reviveAgain = false
            do { try await execute(.revive) } catch {
                logger.warning("REVIVE failed; the framework asks again while instances wait", metadata: ["error": "\(error)"])
            }
        } while reviveAgain
    }

    /// Marathon's `api_post_event`: an API request changed an app.
    func announce(_ app: AppDefinition, uri: String) async {
        let listeners = await bus.listeners
        guard listeners.marathon || listeners.pacer else { return }
        var payload = EventPayload("api_post_event", at: Timestamp.string(SteadyClock.now))
        payload.clientIp = ""
        payload.uri = uri
        payload.appDefinition = app.redactingSecrets()  // events go to every subscriber: no secrets
        var publication = EventEncoding.publication(payload, for: listeners)
        publication.apps = [app.id]
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

    func create(_ spec: AppDefinition, force: Bool) async throws(APIError) -> AppStatus {
        try validate(spec)
        guard core.apps[spec.id] == nil else {
            throw APIError(status: 409, message: "An app with id [\(spec.id)] already exists.")
        }
        let (app, _, directives) = try core.putApp(spec, now: SteadyClock.instant, force: force)
        try await commit(directives)
        await announce(app, uri: "/v2/apps")
        return view().status(of: app, embedTasks: false)
    }

    /// PUT/PATCH: the body's fields replace the stored ones (Marathon's AppUpdate); a missing app is created.
    func update(_ id: PathId, body: Data, force: Bool) async throws(APIError) -> (created: Bool, DeploymentResult) {
        let previous = core.apps[id]
        let spec = try AppMerge.merge(body: body, onto: previous, id: id)
        try validate(spec)
        let (app, deploymentId, directives) = try core.putApp(spec, now: SteadyClock.instant, force: force)
        try await commit(directives)
        if deploymentId != nil { await announce(app, uri: "/v2/apps\(id)") }
        return (
            previous == nil,
            DeploymentResult(version: app.version ?? "", deploymentId: deploymentId ?? UUID().uuidString.lowercased())
        )
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

    func remove(_ id: PathId, force: Bool) async throws(APIError) -> DeploymentResult {
        let (deploymentId, directives) = try core.removeApp(id, now: SteadyClock.instant, force: force)
        try await commit(directives)
        return DeploymentResult(version: Timestamp.string(SteadyClock.now), deploymentId: deploymentId)
    }

    func restart(_ id: PathId, force: Bool) async throws(APIError) -> DeploymentResult {
        let (app, deploymentId, directives) = try core.restartApp(id, now: SteadyClock.instant, force: force)
        try await commit(directives)
        return DeploymentResult(version: app.version ?? "", deploymentId: deploymentId ?? "")
    }

    func killTasks(_ ids: [String], scale: Bool) async throws(APIError) -> (tasks: [MarathonTask], DeploymentResult?) {
        try RequestPrincipal.requireChange(ids.compactMap { core.tasks[$0]?.appId })
        let (killed, deploymentId, directives) = core.killTasks(ids, scale: scale, now: SteadyClock.instant)
        try await commit(directives)
        let result = deploymentId.map { DeploymentResult(version: Timestamp.string(SteadyClock.now), deploymentId: $0) }
        return (killed.map { MarathonTask($0) }, result)
    }

    func app(_ id: PathId) -> AppDefinition? { core.apps[id] }

    /// What the read endpoints need, taken in one hop: the core's collections are values, so this
    /// is a few reference copies, and the answer (JSON for 50,000 tasks) is built outside the
    /// actor instead of holding up placement and status updates for its length.
    func view() -> ReadView {
        ReadView(apps: core.apps, tasks: core.tasks, deployments: core.deployments, lastFailure: core.lastFailure)
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
