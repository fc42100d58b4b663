import Foundation
import PacerAppsCore
import PacerModel

/// The framework's `/metrics`: apps, tasks by state, deployments and those stalled (with how long
/// each has gone without progress), and the offer traffic behind placement.
extension Scheduler {
    /// What `/metrics` shows, taken on the actor (value copies: a few reference counts) and written
    /// outside it: written on the actor, a scrape held placement and the API for ~10 ms each
    /// (at 2,000 agents and 1,000 apps, as much of the actor's time as handling every event).
    func metricsSnapshot() -> MetricsSnapshot {
        MetricsSnapshot(
            core: core, running: core.runningInstances(), counters: counters,
            staleOffers: mailbox.withLock { $0.inbox.staleOffers },
            connected: master != nil, load: load)
    }
}

/// How a leader read its state when it took over.
struct StateLoad: Sendable {
    var seconds: Double
    /// Whether a follower's warm copy was brought up to date instead of reading everything.
    var warm: Bool
}

struct MetricsSnapshot: Sendable {
    let core: AppsCore
    let running: [PathId: Int]
    let counters: SchedulerCounters
    let staleOffers: Int
    let connected: Bool
    let load: StateLoad

    /// `epoch`: the leadership term when replicas elect a leader (its changes are leader changes).
    func text(epoch: Int64?, now: Instant) -> String {
        var out = PrometheusText()
        out.family("pacer_apps", "gauge", "Apps defined.", [([], "\(core.apps.count)")])
        out.family(
            "pacer_tasks", "gauge", "Tasks the framework holds, by state.",
            core.tasks.countByState.sorted { $0.key.rawValue < $1.key.rawValue }.map {
                ([("state", $0.key.rawValue)], "\($0.value)")
            })
        out.family("pacer_deployments", "gauge", "Deployments in progress.", [([], "\(core.deployments.count)")])
        out.family(
            "pacer_deployments_stalled", "gauge", "Deployments without progress for the stall time (--deployment-stall-timeout).",
            [([], "\(core.stalledDeployments.count)")])
        out.family(
            "pacer_deployment_seconds_without_progress", "gauge",
            "Per deployment, seconds since it last came closer to its target.",
            core.deployments.values.sorted { $0.info.id < $1.info.id }.map { d in
                (
                    [("deployment", d.info.id), ("app", d.appId.description)],
                    String(format: "%.1f", now.timeIntervalSince((d.lastProgressAt ?? d.startedAt).map(Instant.init) ?? now))
                )
            })
        out.family("pacer_offers_received_total", "counter", "Offers received from the master.", [([], "\(counters.offers)")])
        out.family(
            "pacer_offers_stale_total", "counter",
            "Offers dropped unused because they waited too long behind other work (the master would have rescinded them).",
            [([], "\(staleOffers)")])
        out.family(
            "pacer_offers_answered_total", "counter",
            "Offers answered, by how: accepted (tasks launched on them), declined until something waits that could use them (declined_long), declined for a moment because what waits did not fit (declined_short).",
            [
                ([("answer", "accepted")], "\(counters.offersAccepted)"),
                ([("answer", "declined_long")], "\(counters.offersDeclinedLong)"),
                ([("answer", "declined_short")], "\(counters.offersDeclinedShort)")
            ])
        out.family("pacer_revives_total", "counter", "REVIVE calls sent to the master.", [([], "\(counters.revives)")])
        out.family(
            "pacer_drains_timed_out_total", "counter",
            "Tasks killed at the drain timeout because a load balancer following the framework never confirmed they left its rotation.",
            [([], "\(core.drainsTimedOut)")])
        out.family(
            "pacer_tasks_launched_total", "counter", "Tasks sent to the master in ACCEPT calls.", [([], "\(counters.launched)")])
        out.family("pacer_master_connected", "gauge", "1 while subscribed to a master.", [([], connected ? "1" : "0")])
        appFamilies(&out, now: now)
        out.family(
            "pacer_deployments_failed_total", "counter", "Deployments that failed (superseded, stopped, past their deadline).",
            [([], "\(counters.deploymentsFailed)")])
        out.family(
            "pacer_store_write_failures_total", "counter", "State store writes that failed (the API answered 503).",
            [([], "\(counters.storeWriteFailures)")])
        out.family(
            "pacer_state_load_seconds", "gauge",
            "How long this leader took to read its state when it took over; read=\"warm\" when a follower's warm copy was brought up to date, \"full\" when every record was read.",
            [([("read", load.warm ? "warm" : "full")], String(format: "%.3f", load.seconds))])
        out.family(
            "pacer_leader_epoch", "gauge", "The leadership term this replica leads in (changes when the leader changes).",
            epoch.map { [([], "\($0)")] } ?? [])
        return out.text
    }

    /// Per app: instances asked for, tasks running, and the launch backoff of a crash-looping app.
    private func appFamilies(_ out: inout PrometheusText, now: Instant) {
        // Ids and counts only: sorting the app definitions themselves copied each one at every
        // move (a tenth of the framework's CPU at 1,000 apps with /metrics scraped 5 times a second).
        let apps = core.apps.map { (id: $0.key.description, instances: $0.value.instances, key: $0.key) }
            .sorted { $0.id < $1.id }
        out.family(
            "pacer_app_instances", "gauge", "Instances an app asks for.",
            apps.map { ([("app", $0.id)], "\($0.instances)") })
        out.family(
            "pacer_app_tasks_running", "gauge", "An app's tasks running and counted as instances.",
            apps.map { app in
                ([("app", app.id)], "\(running[app.key] ?? 0)")
            })
        out.family(
            "pacer_app_launch_delay_seconds", "gauge",
            "The backoff before an app's next launch, while one holds it (tasks failing one after another).",
            core.delays.filter { $0.value.until > now }.sorted { $0.key < $1.key }.map {
                ([("app", $0.key.description)], String(format: "%.1f", $0.value.current))
            })
    }
}

/// Running totals of the framework's traffic with the master.
struct SchedulerCounters: Sendable {
    var offers = 0
    /// How offers were answered: used, given back until something waits that could use them
    /// (`long`), given back for a moment because what waits did not fit (`short`).
    var offersAccepted = 0
    var offersDeclinedLong = 0
    var offersDeclinedShort = 0

    mutating func count(answers: [AppsDirective], declineRefusal: Duration) {
        for d in answers {
            switch d {
            case .accept: offersAccepted += 1
            case .decline(let ids, let refuse) where refuse >= declineRefusal: offersDeclinedLong += ids.count
            case .decline(let ids, _): offersDeclinedShort += ids.count
            default: break
            }
        }
    }
    var revives = 0
    var launched = 0
    var deploymentsFailed = 0
    var storeWriteFailures = 0
}
