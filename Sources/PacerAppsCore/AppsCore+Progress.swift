import Foundation
import PacerModel

/// Deployments that stop moving, and why: a deployment that silently never progresses is an
/// outage nobody is told about (issue 18). Progress is measured as the changes still to make
/// falling to a new low; the progress deadline fails a deployment, the stall report only tells.
extension AppsCore {
    /// Changes still to make: instances to bring up to serving, old-version tasks to remove,
    /// surplus to stop, kills not yet confirmed. A crash-looping app never gets closer.
    func remaining(_ d: Deployment, now: Instant, settled: Bool = false) -> Int {
        guard let app = apps[d.appId] else { return tasks.activeCount(of: d.appId) }
        if settled, app.readinessChecks.isEmpty, countsDecide(app) {
            // No task leaving or unreachable, no canary, every active task on the current spec:
            // what is left follows from the task table's counts. Copying every app's records
            // twice each tick was 8 % of the framework's CPU with 1,000 apps deploying at once.
            let counts = tasks.counts(of: app.id)
            let serving = app.healthChecks.isEmpty ? counts.running : counts.healthy
            return max(0, app.instances - serving) + max(0, tasks.activeCount(of: app.id) - app.instances)
        }
        if let c = canaries[app.id], c.deploymentId == d.info.id {
            return max(0, c.instances - liveCanaries(c, now: now).filter { InstancePlan.isServing($0, c.spec) }.count)
        }
        let version = app.configVersion
        let live = self.live(app.id, now: now)
        let new = live.filter { $0.version == version }
        let serving = new.filter { InstancePlan.isServing($0, app) }.count
        let killing = tasks.of(app: app.id).filter { $0.isActive && leaving[$0.id] != nil }.count
        return max(0, app.instances - serving) + (live.count - new.count) + max(0, new.count - app.instances) + killing
    }

    /// Per tick: records progress, fails deployments past their app's `progressDeadlineSeconds`
    /// (with `autoRevert`, back to the last fully healthy spec), reports those quiet for
    /// `settings.stallSeconds` once.
    mutating func watchDeployments(now: Instant) -> [AppsDirective] {
        var out: [AppsDirective] = []
        let unsettled = unsettledApps(among: deployments.values.compactMap { apps[$0.appId] })
        for (id, d) in deployments.sorted(by: { $0.key < $1.key }) {
            let left = remaining(d, now: now, settled: !unsettled.contains(d.appId))
            if d.closest.map({ left < $0 }) ?? true {
                deployments[id]?.closest = left
                deployments[id]?.lastProgressAt = now.date
                deployments[id]?.stalled = nil
                continue
            }
            let since = d.lastProgressAt.map(Instant.init) ?? now
            let quiet = now - since
            if let app = apps[d.appId], let deadline = app.progressDeadlineSeconds, quiet > .seconds(deadline),
                canaries[app.id]?.deploymentId != id
            {
                out += failForNoProgress(d, app, deadline: deadline, now: now)
                continue
            }
            guard left > 0, d.stalled != true, quiet >= settings.stall else { continue }
            deployments[id]?.stalled = true
            record(.deploymentStalled(d.info, reason: waitingFor(d, now: now), since: since.date))
        }
        return out
    }

    private mutating func failForNoProgress(_ d: Deployment, _ app: AppDefinition, deadline: Double, now: Instant)
        -> [AppsDirective]
    {
        let serving = live(app.id, now: now).filter { $0.version == app.configVersion && InstancePlan.isServing($0, app) }.count
        deployments[d.info.id] = nil
        record(.deploymentFailed(d.info, reason: "no progress for \(Int(deadline)) s (\(serving) of \(app.instances) serving)"))
        guard app.autoRevert, var good = lastGood[app.id], good != app else { return [] }
        good.instances = app.instances
        return (try? putApp(good, now: now, force: true))?.2 ?? []
    }

    /// Whether to ask for offers again: instances have waited to launch, none launched, for the
    /// current backoff (`revive`, doubling up to `reviveMax`).
    mutating func reviveIfStarved(now: Instant) -> Bool {
        guard hasDemand(now: now, among: maybeWanting) else {
            unmet = nil
            return false
        }
        guard var u = unmet else {
            unmet = (since: now, revivedAt: now, revives: 0)
            return false
        }
        let wait = min(settings.reviveMax, settings.revive * pow(2, Double(u.revives)))
        guard now - u.revivedAt >= wait else { return false }
        u.revivedAt = now
        u.revives += 1
        unmet = u
        return true
    }

    /// The deployments reported stalled and not progressed since.
    public var stalledDeployments: [Deployment] { deployments.values.filter { $0.stalled == true } }

    /// In words, the first condition a deployment waits on, as an operator would check them:
    /// backoff, dependencies, offers that do not fit (and why), tasks not yet running, healthy or
    /// ready, load balancers still draining, kills not yet confirmed.
    public func waitingFor(_ d: Deployment, now: Instant) -> String {
        guard let app = apps[d.appId] else {
            let left = tasks.of(app: d.appId).filter(\.isActive)
            return left.isEmpty
                ? "nothing; finishing" : "\(count(left.count, "task")) of the removed app still to stop" + drainNote(left)
        }
        let canary = canaries[app.id].flatMap { $0.deploymentId == d.info.id ? $0 : nil }
        if let delay = delays[app.id], delay.until > now {
            return "launch backoff after failures: next launch in \(Int(delay.until.timeIntervalSince(now).rounded(.up))) s"
                + (lastFailure[app.id].map { "; last failure: \($0.message)" } ?? "")
        }
        if deployment(for: app.id) != nil, !dependenciesReady(app) {
            let waiting = app.dependencies.filter { dep in apps[dep].map { !converged($0) } ?? true }
            return "waiting for dependencies to be deployed and serving: " + waiting.map(\.description).joined(separator: ", ")
        }
        let toLaunch = canary.map { _ in canaryLaunch(app.id, now: now) } ?? plan(app, now: now).launch
        if toLaunch > 0 {
            let why =
                misfits[app.id]?.summary
                ?? lastOfferAt.map { "no offer in the last \(Int(now.timeIntervalSince($0))) s" } ?? "no offer received yet"
            return "\(count(toLaunch, "instance")) to launch; \(why)"
        }
        if let canary, canaryLaunch(app.id, now: now) == 0, remaining(d, now: now) == 0 {
            return "canary of \(count(canary.instances, "instance")) serving: promote or abort it"
        }
        let spec = canary?.spec ?? app
        let mine = tasks.of(app: app.id).filter { $0.isActive }
        let new = mine.filter { $0.version == spec.configVersion && leaving[$0.id] == nil }
        let starting = new.filter { $0.state != .running }
        if !starting.isEmpty {
            let states = Set(starting.map { $0.state.rawValue }).sorted().joined(separator: ", ")
            return "\(count(starting.count, "new task")) launched, not yet running (\(states))"
        }
        let unhealthy = new.filter { !spec.healthChecks.isEmpty && $0.healthy != true }
        if !unhealthy.isEmpty {
            let cause = unhealthy.lazy.compactMap { $0.healthCheckResults?.first { !$0.alive }?.lastFailureCause }.first
            return "\(count(unhealthy.count, "new task")) not yet healthy" + (cause.map { ": \($0)" } ?? " (no check result yet)")
        }
        let unready = new.filter { !spec.readinessChecks.isEmpty && $0.ready != true }
        if !unready.isEmpty { return "\(count(unready.count, "new task")) not yet ready (readiness checks)" }
        let killing = mine.filter { leaving[$0.id] != nil }
        if !killing.isEmpty { return "\(count(killing.count, "old task")) being stopped" + drainNote(killing) }
        let replace = plan(app, now: now).kill.count
        if replace > 0 { return "\(count(replace, "task")) to stop" }
        return "nothing; finishing"
    }

    /// "; waiting for load balancer(s) lb-1 to take 2 out of rotation" when draining holds them.
    private func drainNote(_ ts: [TaskRecord]) -> String {
        let held = ts.compactMap { leaving[$0.id] }.filter(\.isDraining)
        guard !held.isEmpty else { return "" }
        let lbs = Set(held.flatMap(\.waitingFor)).sorted().joined(separator: ", ")
        return "; waiting for load balancer\(lbs.contains(",") ? "s" : "") \(lbs) to take \(held.count) out of rotation"
    }

    func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
}
