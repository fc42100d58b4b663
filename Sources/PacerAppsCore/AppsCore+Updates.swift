import Foundation
import PacerModel

extension AppsCore {
    /// Status updates, applied in order. Record changes are persisted before acknowledgements go out,
    /// so an acknowledged update is never lost; duplicates are harmless.
    public mutating func onStatusUpdates(_ statuses: [TaskStatus], now: Instant) -> [AppsDirective] {
        var persist: [String: TaskRecord] = [:]
        var deleted: [String] = []
        var acks: [Acknowledgement] = []
        var kills: [AppsDirective] = []
        var revive = false
        var touched: Set<PathId> = []
        for s in statuses {
            if let uuid = s.uuid, let agent = s.agentId {
                acks.append(Acknowledgement(agentId: agent, taskId: s.taskId, uuid: uuid))
            }
            if let known = tasks[s.taskId] { touched.insert(known.appId) }
            guard var record = tasks[s.taskId] else {
                // A task we hold no record of (replaced while its agent was away, or a stray): kill it.
                if s.state.isTerminal {
                    strays[s.taskId] = nil
                } else if let agent = s.agentId, strays[s.taskId] == nil {
                    strays[s.taskId] = (agent, now)
                    kills.append(.kill(taskId: s.taskId, agentId: agent))
                }
                continue
            }
            if s.state.isTerminal {
                tasks[s.taskId] = nil
                persist[s.taskId] = nil
                deleted.append(s.taskId)
                unreachableSince[s.taskId] = nil
                let wasKilled = stopLeaving(s.taskId, of: record.appId)
                record.state = s.state
                record.message = s.message
                self.record(.statusUpdate(record, s))
                if !wasKilled, [.failed, .error, .finished].contains(s.state), let app = apps[record.appId] {
                    delays[app.id] = LaunchDelay.afterFailure(delays[app.id], app: app, now: now)
                    lastFailure[app.id] = TaskFailure(record, at: now.date)
                } else if !wasKilled, s.state == .lost {
                    // Marathon counts a lost task as a failure, without backoff.
                    lastFailure[record.appId] = TaskFailure(record, at: now.date)
                }
                revive = true
                continue
            }
            if s.ready == true && record.ready != true {
                record.ready = true
                tasks[s.taskId] = record
                persist[s.taskId] = record
                self.record(.taskReady(record))
            }
            if s.healthy != nil || s.health != nil, let app = apps[record.appId] {
                let (updated, more) = applyHealth(record, s, app, now: now)
                if updated != record {
                    record = updated
                    tasks[s.taskId] = record
                    persist[s.taskId] = record
                }
                kills += more
            }
            guard record.state != s.state, !Self.isStale(s.state, after: record.state) else { continue }
            // Back from a partition after it was replaced: this old copy is the surplus, not the
            // replacement (Mesos shuts down what a removed agent still runs). Decided before the
            // state changes: while unreachable past its tolerance it does not count as an instance.
            let replaced = record.state == .unreachable && s.state == .running && wasReplaced(record, now: now)
            record.state = s.state
            record.message = s.message
            if s.state == .running && record.startedAt == nil { record.startedAt = Date(timeIntervalSince1970: s.timestamp) }
            if s.state == .unreachable { unreachableSince[s.taskId] = now } else { unreachableSince[s.taskId] = nil }
            if s.state == .unreachable { revive = true }
            tasks[s.taskId] = record
            self.record(.statusUpdate(record, s))
            persist[s.taskId] = record
            if replaced { kills += requestKill(s.taskId, now: now) }
        }
        var out: [AppsDirective] = []
        if !persist.isEmpty { out.append(.persistTasks(persist.values.sorted { $0.id < $1.id })) }
        if !deleted.isEmpty { out.append(.deleteTasks(deleted)) }
        if !acks.isEmpty { out.append(.acknowledge(acks)) }
        out += kills
        // Only the apps these updates touched can have changed plans, and the apps waiting on
        // them (a dependency now serving lets its dependents launch).
        let concerned = touched.union(
            apps.values.filter { !$0.dependencies.isEmpty && !touched.isDisjoint(with: $0.dependencies) }.map(\.id))
        out += enforcePlans(now: now, of: concerned)
        if (revive || concerned.count > touched.count) && hasDemand(now: now, among: concerned) { out.append(.revive) }
        completeDeployments(of: concerned)
        return emitting(out)
    }

    /// A delayed or duplicated earlier update (STARTING after RUNNING) must not move a task back.
    private static func isStale(_ new: TaskState, after current: TaskState) -> Bool {
        let launch: [TaskState] = [.staging, .starting, .running]
        guard let n = launch.firstIndex(of: new), let c = launch.firstIndex(of: current) else { return false }
        return n < c
    }

    /// An unreachable task past its app's `inactiveAfterSeconds` while the app has its full count without it.
    private func wasReplaced(_ t: TaskRecord, now: Instant) -> Bool {
        guard let since = unreachableSince[t.id], let app = apps[t.appId],
            now.timeIntervalSince(since) >= app.unreachableStrategy.inactiveAfterSeconds
        else { return false }
        return live(app.id, now: now).filter { $0.id != t.id }.count >= app.instances
    }

    /// After (re-)subscribing: ask the master about every task we hold, then for everything it has.
    public mutating func onSubscribed(now: Instant) -> [AppsDirective] {
        lastReconcile = now
        let refs = tasks.values.sorted { $0.id < $1.id }.map { TaskRef(taskId: $0.id, agentId: $0.agentId) }
        return emitting((refs.isEmpty ? [] : [.reconcile(refs)]) + [.reconcile([]), .revive])
    }

    /// Periodic work: backoffs that ran out, stuck launches, unanswered kills, unreachable tolerance,
    /// periodic reconciliation.
    public mutating func onTick(now: Instant) -> [AppsDirective] {
        var out: [AppsDirective] = []
        var revive = false
        var expunged: [String] = []
        // A backoff that just ran out: offers were declined meanwhile, so ask for them again.
        if delays.values.contains(where: { $0.until <= now && $0.until > now.addingTimeInterval(-1.5) }) { revive = true }
        // Only tasks that need watching: staging (launch timeout), draining, being killed, unreachable.
        // Those with something due are picked out first and only they are sorted (for a
        // repeatable order): sorting 50,000 staging ids every tick was 4 % of the framework's CPU
        // while a large app was placed.
        // Staging tasks only when one can be due: while 50,000 tasks stage, gathering and
        // filtering them every tick was 5 % of the framework's CPU, and none is due for a minute.
        let scanStaging = nextStagingScan.map { now >= $0 } ?? true
        var watched = Set(unreachableSince.keys)
        if leavingFiled {
            watched.formUnion(leavingWakeups.due(now: now))
        } else {
            watched.formUnion(leaving.keys)
            for id in leaving.keys { fileLeaving(id) }
            leavingFiled = true
        }
        if scanStaging {
            watched.formUnion(tasks.staging)
            confirming.formIntersection(tasks.staging)
            nextStagingScan = nextStagingDue(now: now)
        }
        var confirm: [TaskRef] = []
        let due = watched.filter { id in
            guard let t = tasks[id] else { return false }
            return (t.state == .staging && now - Instant(t.stagedAt) > settings.launchTimeout) || leaving[id] != nil
                || (t.state == .unreachable && unreachableSince[id] != nil)
        }
        for t in due.sorted().compactMap({ tasks[$0] }) {
            if t.state == .staging, leaving[t.id] == nil, now - Instant(t.stagedAt) > settings.launchTimeout {
                if now - Instant(t.stagedAt) > settings.launchConfirm {
                    out += requestKill(t.id, now: now)
                } else if confirming.insert(t.id).inserted {
                    confirm.append(TaskRef(taskId: t.id, agentId: t.agentId))
                }
            } else if let due = leaving[t.id]?.due(
                now: now, drainTimeout: settings.drainTimeout, killRetry: settings.killRetry)
            {
                switch due {
                case .finishDrain:
                    drainsTimedOut += 1
                    out += finishDrain(t.id, now: now)
                case .repeatKill:
                    leaving[t.id]?.killNow(now)
                    fileLeaving(t.id)
                    out.append(.kill(taskId: t.id, agentId: t.agentId))
                }
            } else if leaving[t.id] != nil {
                fileLeaving(t.id)  // woken before its time (filed by the second): again at its deadline
            }
            if t.state == .unreachable, let since = unreachableSince[t.id], let app = apps[t.appId] {
                let away = now.timeIntervalSince(since)
                let strategy = app.unreachableStrategy
                // Just past its tolerance the app is short of an instance, and offers were declined
                // meanwhile: ask for them again (ticks are 0.5 s apart, the window 1.5 s).
                if away >= strategy.inactiveAfterSeconds && away < strategy.inactiveAfterSeconds + 1.5 { revive = true }
                // Past expungeAfterSeconds it is forgotten: should its agent come back, it is a stray and killed.
                if away > max(strategy.expungeAfterSeconds, strategy.inactiveAfterSeconds) {
                    tasks[t.id] = nil
                    unreachableSince[t.id] = nil
                    stopLeaving(t.id, of: t.appId)
                    expunged.append(t.id)
                    revive = true
                }
            }
        }
        for (id, stray) in strays.sorted(by: { $0.key < $1.key })
        where now - stray.since > settings.killRetry {
            strays[id] = (stray.agentId, now)
            out.append(.kill(taskId: id, agentId: stray.agentId))
        }
        if !expunged.isEmpty { out.append(.deleteTasks(expunged)) }
        if !confirm.isEmpty { out.append(.reconcile(confirm)) }
        if revive && hasDemand(now: now) { out.append(.revive) }
        // What only time changes (tolerances, deadlines, starvation), once a second: with a thousand
        // deployments in flight, planning all of them every tick was most of the framework's CPU.
        if lastSlowTick.map({ now.timeIntervalSince($0) >= 1 }) ?? true {
            lastSlowTick = now
            // A converged app has nothing to kill: only apps being deployed are planned here.
            out += enforcePlans(now: now, of: deployments.appIds)
            out += watchDeployments(now: now)
            if reviveIfStarved(now: now), !out.contains(.revive) { out.append(.revive) }
            completeDeployments()
        }
        if let last = lastReconcile, now - last > settings.reconcileInterval {
            lastReconcile = now
            out.append(.reconcile([]))
        }
        return emitting(out)
    }
}

extension AppsCore {
    /// The first instant a staging task can pass its launch timeout or its confirmation deadline
    /// (checked with `>`: a tick at the very instant scans again at the next). A task staged later
    /// is due no sooner than a launch timeout from now.
    func nextStagingDue(now: Instant) -> Instant {
        var next = now + settings.launchTimeout
        // A staging task being killed is watched as a leaving task (`leavingWakeups`); counted
        // here, it was due on every tick until its agent answered.
        for id in tasks.staging where leaving[id] == nil {
            guard let t = tasks[id] else { continue }
            let staged = Instant(t.stagedAt)
            let deadline =
                now - staged <= settings.launchTimeout ? staged + settings.launchTimeout : staged + settings.launchConfirm
            next = min(next, max(now, deadline))
        }
        return next
    }

    /// Health results from the agent: recorded (and so persisted), turned into Marathon's health
    /// events, and a task past `maxConsecutiveFailures` is killed — a bounded share of the app at a time.
    private mutating func applyHealth(_ old: TaskRecord, _ s: TaskStatus, _ app: AppDefinition, now: Instant) -> (
        TaskRecord, [AppsDirective]
    ) {
        var t = old
        t.healthy = s.healthy
        t.healthCheckResults = s.health
        if t.healthy != old.healthy, let alive = t.healthy { record(.healthStatusChanged(t, alive: alive)) }
        var exceeded: String?
        for (i, result) in (s.health ?? []).enumerated() where i < app.healthChecks.count {
            let check = app.healthChecks[i]
            let before = old.healthCheckResults?[safe: i]?.consecutiveFailures ?? 0
            if !result.alive && result.consecutiveFailures > before { record(.failedHealthCheck(t, check)) }
            if check.maxConsecutiveFailures > 0 && result.consecutiveFailures >= check.maxConsecutiveFailures {
                exceeded =
                    "\(result.consecutiveFailures) consecutive failures of a \(check.protocol.rawValue) check: "
                    + (result.lastFailureCause ?? "no cause given")
            }
        }
        guard let reason = exceeded, leaving[t.id] == nil else { return (t, []) }
        // Checks that time out together must not take the whole app down: a bounded share at a time.
        let inFlight = leaving.filter { $0.value.isUnhealthyKill && tasks[$0.key]?.appId == app.id }.count
        guard inFlight < max(1, app.instances / 4) else { return (t, []) }
        record(.unhealthyInstanceKill(t, reason: reason))
        return (t, requestKill(t.id, now: now, unhealthy: true))
    }
}
