import Foundation
import PacerModel

/// A change worth telling subscribers about (Marathon's event bus). The core records them as it
/// changes state; the shell publishes them once the change is durable.
public enum AppsEvent: Sendable, Equatable {
    case statusUpdate(TaskRecord, TaskStatus)
    case deploymentInfo(DeploymentInfo)
    case deploymentSuccess(DeploymentInfo)
    case deploymentFailed(DeploymentInfo, reason: String)
    /// No progress for the stall time; `reason` says what it waits on (Pacer's own event).
    case deploymentStalled(DeploymentInfo, reason: String, since: Date)
    case appTerminated(PathId)
    case healthStatusChanged(TaskRecord, alive: Bool)
    case failedHealthCheck(TaskRecord, HealthCheck)
    case unhealthyInstanceKill(TaskRecord, reason: String)
    /// Load balancers are to take the task out of rotation; it is killed once they have.
    case taskDraining(TaskRecord)
    /// Its readiness checks passed: load balancers may send it traffic (Pacer's own event).
    case taskReady(TaskRecord)

    public var isDeploymentFailure: Bool {
        if case .deploymentFailed = self { return true }
        return false
    }
}

extension AppsCore {
    mutating func record(_ event: AppsEvent) { events.append(event) }

    /// Every entry point returns through here: the events its changes raised follow its other
    /// directives as `.publish`, so the shell tells subscribers only once the writes before them
    /// are durable — one channel out of the core, in order.
    mutating func emitting(_ directives: [AppsDirective]) -> [AppsDirective] {
        guard !events.isEmpty else { return directives }
        defer { events = [] }
        return directives + events.map(AppsDirective.publish)
    }
}
