import Foundation
import PacerModel

extension AppsCore {
    /// Places waiting instances on this batch of offers, one per offer in turn (spread over the
    /// agents rather than packed into the first: a thousand small tasks on one agent made one
    /// LAUNCH larger than its delivery timeout, and one agent's loss an app's). The records are
    /// persisted, in one write, before any launch is sent.
    public mutating func onOffers(_ offers: [Offer], now: Instant) -> [AppsDirective] {
        lastOfferAt = now
        // What each app (and canary) still wants, worked out once for the batch and counted down
        // as instances are placed: recomputing it per offer made a batch cost offers × tasks.
        var wants = launchWants(now: now)
        var remaining = offers.map(\.resources)
        var placed = Array(repeating: [TaskInfo](), count: offers.count)
        var records: [TaskRecord] = []
        var start = 0
        for i in wants.indices where !offers.isEmpty {
            var rotation = Array(start..<offers.count) + Array(0..<start)
            var k = 0
            while wants[i].count > 0, !rotation.isEmpty {
                k %= rotation.count
                let o = rotation[k]
                guard case .success(let (record, info)) = place(wants[i].spec, on: offers[o], remaining: remaining[o], now: now)
                else {
                    rotation.remove(at: k)  // full, or not for this app: out of its rotation
                    continue
                }
                tasks[record.id] = record
                remaining[o] = remaining[o] - info.resources
                records.append(record)
                placed[o].append(info)
                wants[i].count -= 1
                k += 1
            }
            start = rotation.isEmpty ? start : rotation[k % rotation.count]
        }
        recordMisfits(wants.filter { $0.count > 0 }, offers, remaining, now: now)
        var out: [AppsDirective] = records.isEmpty ? [] : [.persistTasks(records)]
        // Offers of a kind something still waiting could use come back soon; the rest (revocable
        // capacity while only services wait, another role's) not before the long refusal or a
        // REVIVE: refused for 2 s, 2,000 revocable offers came back every 2 s while services were
        // placed.
        let waiting = wants.filter { $0.count > 0 }.map(\.spec)
        var soon: [String] = []
        var later: [String] = []
        for (o, offer) in offers.enumerated() {
            if !placed[o].isEmpty {
                out.append(.accept(offerId: offer.id, tasks: placed[o], refuse: .zero))
            } else if waiting.contains(where: { kindMisfit($0, offer) == nil }) {
                soon.append(offer.id)
            } else {
                later.append(offer.id)
            }
        }
        if !records.isEmpty { unmet = nil }  // progress: the starvation watch starts over
        if !soon.isEmpty { out.append(.decline(offerIds: soon, refuse: settings.unfitRefusal)) }
        if !later.isEmpty { out.append(.decline(offerIds: later, refuse: settings.declineRefusal)) }
        return emitting(out)
    }

    /// Why the offers left (as placement left them) do not take the instances still waiting;
    /// reasons are kept only for apps still waiting. A sample of offers says enough.
    private mutating func recordMisfits(
        _ waiting: [(spec: AppDefinition, count: Int)], _ offers: [Offer], _ remaining: [Resources], now: Instant
    ) {
        let ids = Set(waiting.map(\.spec.id))
        misfits = misfits.filter { ids.contains($0.key) }
        for w in waiting {
            var unused = 0
            for o in offers.indices.prefix(200) {
                if case .failure(let misfit) = fit(w.spec, on: offers[o], remaining: remaining[o], now: now) {
                    misfits[w.spec.id, default: Misfits()].record(misfit, on: offers[o])
                    unused += 1
                }
            }
            misfits[w.spec.id, default: Misfits()].count(processed: min(offers.count, 200), unused: unused)
        }
    }

    /// Whether batch work waits to launch: only it runs on revocable offers, so only then does a
    /// REVIVE ask for them again.
    public func wantsRevocable(now: Instant) -> Bool {
        launchWants(now: now).contains { $0.spec.kind == .batch }
    }

    /// Apps (and canaries) with instances to launch now, by app id: not in backoff, not waiting
    /// for their dependencies.
    func launchWants(now: Instant, among ids: Set<PathId>? = nil) -> [(spec: AppDefinition, count: Int)] {
        var out: [(spec: AppDefinition, count: Int)] = []
        // Ids sorted, not specs: sorting a thousand whole app definitions moved kilobytes each.
        let candidates = (ids.map(Array.init) ?? Array(apps.keys)).sorted().compactMap { apps[$0] }
        let unsettled = unsettledApps(among: candidates)
        for app in candidates {
            if let d = delays[app.id], d.until > now { continue }
            guard dependenciesReady(app) else { continue }
            let n = launchCount(app, unsettled: unsettled, now: now)
            if n > 0 { out.append((app, n)) }
            if let canary = canaries[app.id] {
                let c = canaryLaunch(app.id, now: now)
                if c > 0 { out.append((canary.spec, c)) }
            }
        }
        return out
    }

    /// Which of these apps have a task leaving or unreachable (their plans depend on more than
    /// counts), and how many tasks each has leaving (`leavingByApp`). Unreachable tasks from
    /// whichever side is smaller: all of them, or the candidates' tasks.
    func unsettledApps(among candidates: [AppDefinition]) -> Unsettled {
        var out = Unsettled(leaving: leavingByApp)
        if unreachableSince.count <= candidates.reduce(0, { $0 + tasks.activeCount(of: $1.id) }) {
            for id in unreachableSince.keys { if let t = tasks[id] { out.unreachable.insert(t.appId) } }
        } else {
            for app in candidates where tasks.ids(of: app.id).contains(where: { unreachableSince[$0] != nil }) {
                out.unreachable.insert(app.id)
            }
        }
        return out
    }

    /// Apps whose plans depend on more than their task table's counts (`unsettledApps`).
    struct Unsettled {
        /// Active tasks being killed, by app (none: no entry).
        var leaving: [PathId: Int] = [:]
        /// Apps with a task unreachable: whether it still counts depends on how long it has been away.
        var unreachable: Set<PathId> = []

        func contains(_ app: PathId) -> Bool { leaving[app] != nil || unreachable.contains(app) }
    }

    /// How many live tasks an app has, from counts, when its plan follows from them
    /// (`countsDecide`) and none of its tasks is unreachable: its active tasks less those being
    /// killed; nil otherwise. Under churn every app has a task leaving, and copying every app's
    /// records per batch of offers to count them (`live`) was a quarter of an overloaded
    /// framework's CPU (issue 12).
    func liveCount(_ app: AppDefinition, _ unsettled: Unsettled) -> Int? {
        guard !unsettled.unreachable.contains(app.id), countsDecide(app) else { return nil }
        return tasks.activeCount(of: app.id) - unsettled.leaving[app.id, default: 0]
    }

    /// `plan(app).launch`, from counts where they decide (`liveCount`), instead of copying every
    /// record of every app for each batch of offers.
    private func launchCount(_ app: AppDefinition, unsettled: Unsettled, now: Instant) -> Int {
        if let live = liveCount(app, unsettled) { return max(0, app.instances - live) }
        return plan(app, now: now).launch
    }

    /// Whether the app's plan follows from counts (for an app with no task leaving or unreachable):
    /// no canary, and every active task on the current spec.
    func countsDecide(_ app: AppDefinition) -> Bool {
        canaries[app.id] == nil && tasks.allActive(of: app.id, run: app.configVersion)
    }

    /// Whether this offer can take one more instance of `app`, and why not.
    func fit(_ app: AppDefinition, on offer: Offer, remaining: Resources, now: Instant) -> Result<[Int], Misfit> {
        if let misfit = kindMisfit(app, offer) { return .failure(misfit) }
        let need = app.resourcesPerTask
        if remaining.cpus + 1e-6 < need.cpus { return .failure(.cpus(need: need.cpus, had: remaining.cpus)) }
        if remaining.mem + 1e-6 < need.mem { return .failure(.mem(need: need.mem, had: remaining.mem)) }
        if remaining.disk + 1e-6 < need.disk { return .failure(.disk(need: need.disk, had: remaining.disk)) }
        if !app.constraints.isEmpty {
            let placed = live(app.id, now: now)
            if let failed = app.constraints.first(where: {
                !ConstraintCheck.accepts([$0], hostname: offer.hostname, attributes: offer.attributes, placed: placed)
            }) {
                return .failure(.constraint(failed))
            }
        }
        guard let hostPorts = pickPorts(app, from: remaining) else {
            return .failure(
                app.requirePorts
                    ? .requiredPorts(app.portDefinitions.map(\.port))
                    : .ports(need: app.portDefinitions.count, had: remaining.portCount))
        }
        return .success(hostPorts)
    }

    /// Services only on guaranteed resources of their role; batch work only on revocable capacity.
    private func kindMisfit(_ app: AppDefinition, _ offer: Offer) -> Misfit? {
        if (offer.revocable == true) != (app.kind == .batch) { return .revocable(wanted: app.kind == .batch) }
        if app.kind != .batch, (offer.role ?? Role.any) != (app.role ?? Role.any) {
            return .role(offered: offer.role ?? Role.any, wanted: app.role ?? Role.any)
        }
        return nil
    }

    /// One instance of `app` on this offer, if it fits.
    mutating func place(_ app: AppDefinition, on offer: Offer, remaining: Resources, now: Instant) -> Result<
        (TaskRecord, TaskInfo), Misfit
    > {
        let hostPorts: [Int]
        switch fit(app, on: offer, remaining: remaining, now: now) {
        case .success(let ports): hostPorts = ports
        case .failure(let misfit): return .failure(misfit)
        }
        let id = TaskRecord.makeId(app: app.id, uuid: nextId())
        let version = app.configVersion
        let servicePorts = app.portDefinitions.map(\.port)
        let record = TaskRecord(
            id: id, appId: app.id, agentId: offer.agentId, host: offer.hostname,
            agentAttributes: offer.attributes, ports: hostPorts, servicePorts: servicePorts,
            version: version, stagedAt: now.date)
        let resources = Resources(cpus: app.cpus, mem: app.mem, disk: app.disk, ports: PortRange.ranges(of: hostPorts))
        let command = CommandInfo(
            shell: app.cmd != nil, value: app.cmd, arguments: app.args,
            environment: environment(app, taskId: id, host: offer.hostname, ports: hostPorts),
            user: app.user)
        let checks = app.healthChecks.map { TaskHealthCheck($0, taskPorts: hostPorts) }
        let readiness = app.readinessChecks.map {
            TaskReadinessCheck($0, portNames: app.portDefinitions.map(\.name), taskPorts: hostPorts)
        }
        let info = TaskInfo(
            taskId: id, name: app.id.description, agentId: offer.agentId, resources: resources,
            command: command, killGracePeriodSeconds: app.taskKillGracePeriodSeconds,
            healthChecks: checks.isEmpty ? nil : checks, readinessChecks: readiness.isEmpty ? nil : readiness,
            resourceLimits: app.resourceLimits)
        return .success((record, info))
    }

    /// Host ports: the service ports themselves with `requirePorts`, else the lowest free ones.
    private func pickPorts(_ app: AppDefinition, from r: Resources) -> [Int]? {
        let need = app.portDefinitions.count
        if need == 0 { return [] }
        if app.requirePorts {
            let wanted = app.portDefinitions.map(\.port)
            return wanted.allSatisfy { p in r.ports.contains { $0.contains(p) } } ? wanted : nil
        }
        var picked: [Int] = []
        for range in r.ports {
            var p = range.begin
            while p <= range.end && picked.count < need {
                picked.append(p)
                p += 1
            }
            if picked.count == need { return picked }
        }
        return nil
    }

    /// The variables of DESIGN.md, Marathon's names for compatibility, then the app's own `env`.
    func environment(_ app: AppDefinition, taskId: String, host: String, ports: [Int]) -> [String: String] {
        var env: [String: String] = [
            "HOST": host, "PACER_APP_ID": app.id.description, "PACER_TASK_ID": taskId,
            "MARATHON_APP_ID": app.id.description, "MARATHON_APP_VERSION": app.version ?? "",
            "MESOS_TASK_ID": taskId, "PORTS": ports.map(String.init).joined(separator: ",")
        ]
        for (i, p) in ports.enumerated() {
            env["PORT\(i)"] = String(p)
            if let name = app.portDefinitions[safe: i]?.name {
                env["PORT_" + name.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()] = String(p)
            }
        }
        if let first = ports.first { env["PORT"] = String(first) }
        for (k, v) in app.labels { env["MARATHON_APP_LABEL_" + String(k.uppercased().map { $0 == "-" ? "_" : $0 })] = v }
        return env.merging(app.env) { _, mine in mine }
    }
}
