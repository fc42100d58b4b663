import Foundation
import PacerAppsCore
import PacerModel

/// The framework's `/metrics`: apps, tasks by state, deployments and those stalled (with how long
/// each has gone without progress), and the offer traffic behind placement.
extension Scheduler {
    func metrics() -> String {
        let now = Date()
        var out = PrometheusText()
        out.family("pacer_apps", "gauge", "Apps defined.", [([], "\(core.apps.count)")])
        let byState = Dictionary(grouping: core.tasks.values, by: \.state).mapValues(\.count)
        out.family(
            "pacer_tasks", "gauge", "Tasks the framework holds, by state.",
            byState.sorted { $0.key.rawValue < $1.key.rawValue }.map { ([("state", $0.key.rawValue)], "\($0.value)") })
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
                    String(format: "%.1f", now.timeIntervalSince(d.lastProgressAt ?? d.startedAt ?? now))
                )
            })
        out.family("pacer_offers_received_total", "counter", "Offers received from the master.", [([], "\(counters.offers)")])
        out.family("pacer_revives_total", "counter", "REVIVE calls sent to the master.", [([], "\(counters.revives)")])
        out.family(
            "pacer_tasks_launched_total", "counter", "Tasks sent to the master in ACCEPT calls.", [([], "\(counters.launched)")])
        out.family("pacer_master_connected", "gauge", "1 while subscribed to a master.", [([], master == nil ? "0" : "1")])
        return out.text
    }
}

/// Running totals of the framework's traffic with the master.
struct SchedulerCounters: Sendable {
    var offers = 0
    var revives = 0
    var launched = 0
}
