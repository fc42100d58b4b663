import Foundation
import PacerAppsCore
import PacerModel

/// Marathon's event payloads (docs/event-bus.md): `eventType`, `timestamp` and the fields each type carries.
enum EventEncoding {
    static func encode(_ event: AppsEvent, at now: Date) -> [(type: String, data: Data)] {
        let ts = Timestamp.string(now)
        return payloads(event).map { type, fields in
            var object = fields
            object["eventType"] = type
            object["timestamp"] = ts
            return (type, json(object))
        }
    }

    static func json(_ object: [String: Any]) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    }

    static func object<T: Encodable>(_ value: T) -> Any {
        guard let data = try? WireJSON.marathonEncoder().encode(value) else { return [:] as [String: Any] }
        return (try? JSONSerialization.jsonObject(with: data)) ?? [:] as [String: Any]
    }

    static func plan(_ d: DeploymentInfo) -> [String: Any] {
        ["id": d.id, "version": d.version, "affectedApps": d.affectedApps,
         "steps": d.steps.flatMap(\.actions).map { ["action": $0.action, "app": $0.app] }]
    }

    static func currentStep(_ d: DeploymentInfo) -> [String: Any] {
        ["actions": d.currentActions.map { ["action": $0.action, "type": $0.action, "app": $0.app] }]
    }

    static func task(_ t: TaskRecord) -> [String: Any] {
        ["appId": t.appId.description, "taskId": t.id, "instanceId": t.id, "host": t.host, "slaveId": t.agentId,
         "ports": t.ports, "version": t.version]
    }

    /// Marathon's instance conditions, from Mesos task states.
    static func condition(_ s: TaskState) -> String {
        switch s {
        case .staging: "Staging"
        case .starting: "Starting"
        case .running: "Running"
        case .killing: "Killing"
        case .killed: "Killed"
        case .finished: "Finished"
        case .failed: "Failed"
        case .error: "Error"
        case .lost, .gone, .dropped: "Gone"
        case .unreachable: "Unreachable"
        }
    }

    static func payloads(_ event: AppsEvent) -> [(String, [String: Any])] {
        switch event {
        case .statusUpdate(let t, let s):
            var status = task(t)
            status["taskStatus"] = s.state.rawValue
            status["message"] = s.message ?? ""
            status["ipAddresses"] = [["ipAddress": t.host, "protocol": "IPv4"]]
            if let healthy = s.healthy { status["healthy"] = healthy }
            let instance: [String: Any] = ["instanceId": t.id, "condition": condition(s.state), "runSpecId": t.appId.description,
                                           "agentId": t.agentId, "host": t.host, "runSpecVersion": t.version,
                                           "goal": s.state.isTerminal ? "Decommissioned" : "Running"]
            return [("status_update_event", status), ("instance_changed_event", instance)]
        case .deploymentInfo(let d):
            return [("deployment_info", ["plan": plan(d), "currentStep": currentStep(d)])]
        case .deploymentSuccess(let d):
            return [("deployment_step_success", ["plan": plan(d), "currentStep": currentStep(d)]),
                    ("deployment_success", ["id": d.id, "plan": plan(d)])]
        case .deploymentFailed(let d, let reason):
            return [("deployment_step_failure", ["plan": plan(d), "currentStep": currentStep(d)]),
                    ("deployment_failed", ["id": d.id, "plan": plan(d), "reason": reason])]
        case .deploymentStalled(let d, let reason, let since):
            // Pacer's own event: a deployment that came no closer to its target for the stall time.
            return [("deployment_stalled", ["id": d.id, "plan": plan(d), "reason": reason, "since": Timestamp.string(since)])]
        case .appTerminated(let id):
            return [("app_terminated_event", ["appId": id.description])]
        case .healthStatusChanged(let t, let alive):
            var fields = task(t)
            fields["alive"] = alive
            return [("health_status_changed_event", fields)]
        case .failedHealthCheck(let t, let check):
            var fields = task(t)
            fields["healthCheck"] = object(check)
            return [("failed_health_check_event", fields)]
        case .unhealthyInstanceKill(let t, let reason):
            var fields = task(t)
            fields["reason"] = reason
            return [("unhealthy_instance_kill_event", fields), ("unhealthy_task_kill_event", fields)]
        case .taskDraining(let t):
            // Pacer's own event: load balancers take the task out of rotation, then acknowledge.
            return [("instance_draining_event", task(t))]
        }
    }
}
