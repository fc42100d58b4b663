import Foundation
import PacerModel

/// One health check's standing for one task, under Marathon's rules: failures inside the grace
/// period before the first success do not count; `consecutiveFailures` resets on success.
public struct HealthTracker: Sendable, Equatable {
    public let check: TaskHealthCheck
    public let taskId: String
    /// When the task started: the grace period runs from here.
    public let startedAt: Instant
    public private(set) var consecutiveFailures = 0
    public private(set) var firstSuccess: Instant?
    public private(set) var lastSuccess: Instant?
    public private(set) var lastFailure: Instant?
    public private(set) var lastFailureCause: String?
    /// nil until the first verdict that counts.
    public private(set) var alive: Bool?

    public init(check: TaskHealthCheck, taskId: String, startedAt: Instant) {
        self.check = check
        self.taskId = taskId
        self.startedAt = startedAt
    }

    /// Whether this outcome changed what the framework should hear: liveness flipped, or the
    /// failure count reached the kill threshold.
    public mutating func record(success: Bool, cause: String? = nil, now: Instant) -> Bool {
        let before = (alive, consecutiveFailures >= threshold)
        if success {
            if firstSuccess == nil { firstSuccess = now }
            lastSuccess = now
            consecutiveFailures = 0
            alive = true
        } else {
            lastFailure = now
            lastFailureCause = cause
            let inGrace = firstSuccess == nil && now - startedAt < .seconds(check.gracePeriodSeconds)
            if inGrace { return false }
            consecutiveFailures += 1
            alive = false
        }
        return before != (alive, consecutiveFailures >= threshold)
    }

    var threshold: Int { check.maxConsecutiveFailures > 0 ? check.maxConsecutiveFailures : .max }

    /// Past `maxConsecutiveFailures` (0 means never).
    public var exceeded: Bool { consecutiveFailures >= threshold }

    public var result: HealthCheckResult {
        func stamp(_ t: Instant?) -> String? { t.map { Timestamp.string($0.date) } }
        return HealthCheckResult(
            alive: alive ?? false, consecutiveFailures: consecutiveFailures,
            firstSuccess: stamp(firstSuccess), lastSuccess: stamp(lastSuccess),
            lastFailure: stamp(lastFailure), lastFailureCause: lastFailureCause, taskId: taskId)
    }
}

extension AgentCore {
    /// A health verdict changed: the framework hears it on a TASK_RUNNING update (acknowledged and
    /// retried like any other), with every check's standing.
    public mutating func onHealthChanged(taskId: String, _ trackers: [HealthTracker], now: Instant) -> [AgentDirective] {
        guard let t = state.tasks[taskId], t.state == .running else { return [] }
        let verdicts = trackers.map(\.alive)
        let healthy: Bool? = verdicts.contains { $0 == false } ? false : verdicts.allSatisfy { $0 == true } ? true : nil
        state.counter += 1
        let status = TaskStatus(
            taskId: taskId, agentId: agentId, frameworkId: t.frameworkId, state: .running,
            message: trackers.first { $0.alive == false }?.lastFailureCause,
            reason: "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED", uuid: "\(idPrefix)-\(state.counter)",
            timestamp: now.secondsSince1970, healthy: healthy, health: trackers.map(\.result))
        queue(status)
        return [.checkpoint] + flush(due(now: now))
    }
}

extension AgentCore {
    /// Every readiness check answered ready: the framework may count the task toward a deployment.
    public mutating func onReady(taskId: String, now: Instant) -> [AgentDirective] {
        guard let t = state.tasks[taskId], t.state == .running else { return [] }
        state.counter += 1
        let status = TaskStatus(
            taskId: taskId, agentId: agentId, frameworkId: t.frameworkId, state: .running,
            reason: "REASON_TASK_READY", uuid: "\(idPrefix)-\(state.counter)", timestamp: now.secondsSince1970)
        var ready = status
        ready.ready = true
        queue(ready)
        return [.checkpoint] + flush(due(now: now))
    }
}
