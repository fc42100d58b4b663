import Foundation
import PacerAppsCore
import PacerModel

/// One event as it goes out on `/v2/events` and to callbacks: Marathon's `eventType` and
/// `timestamp`, then the fields its type carries (docs/event-bus.md). A Codable struct and one
/// encoder: building dictionaries for JSONSerialization (with its locale-aware key sort) cost
/// 43 % of the framework's CPU while 2,500 tasks launched (issue 12's profile).
struct EventPayload: Encodable, Sendable {
    struct IPAddress: Encodable, Sendable {
        var ipAddress: String
        var `protocol` = "IPv4"
    }
    struct Plan: Encodable, Sendable {
        var id, version: String
        var affectedApps: [String]
        var steps: [Action]
    }
    struct Action: Encodable, Sendable {
        var action: String
        var type: String?
        var app: String
    }
    struct Step: Encodable, Sendable { var actions: [Action] }

    var eventType: String
    var timestamp: String
    var id: String?
    var slaveId: String?
    var taskId: String?
    var instanceId: String?
    var taskStatus: String?
    var message: String?
    var appId: String?
    var host: String?
    var ipAddresses: [IPAddress]?
    var ports: [Int]?
    var version: String?
    var healthy: Bool?
    var alive: Bool?
    var healthCheck: HealthCheck?
    var reason: String?
    var since: String?
    var plan: Plan?
    var currentStep: Step?
    var condition: String?
    var runSpecId: String?
    var agentId: String?
    var runSpecVersion: String?
    var goal: String?
    var clientIp: String?
    var uri: String?
    var appDefinition: AppDefinition?
    var callbackUrl: String?
    var remoteAddress: String?

    init(_ type: String, at timestamp: String) {
        eventType = type
        self.timestamp = timestamp
    }

    /// The task fields Marathon's task events carry.
    init(_ type: String, at timestamp: String, task t: TaskRecord) {
        self.init(type, at: timestamp)
        appId = t.appId.description
        taskId = t.id
        instanceId = t.id
        host = t.host
        slaveId = t.agentId
        ports = t.ports
        version = t.version
    }

    init(_ type: String, at timestamp: String, deployment d: DeploymentInfo, withStep: Bool) {
        self.init(type, at: timestamp)
        plan = Plan(
            id: d.id, version: d.version, affectedApps: d.affectedApps,
            steps: d.steps.flatMap(\.actions).map { Action(action: $0.action, app: $0.app) })
        if withStep {
            currentStep = Step(actions: d.currentActions.map { Action(action: $0.action, type: $0.action, app: $0.app) })
        }
    }
}

extension EventPayload {
    /// Pacer's own event types: only load balancers and `embed=pacer` subscribers get them.
    static let pacerOnly: Set<String> = ["instance_draining_event", "instance_ready_event", "deployment_stalled"]

    /// The event as Marathon sends it (Marathon 1.x's `Events.scala`), or nil for Pacer's own types.
    /// Pacer's subscribers get the full payload: the task fields on health events, `instanceId`
    /// and `healthy` on status updates.
    var marathon: EventPayload? {
        guard !Self.pacerOnly.contains(eventType) else { return nil }
        var m = self
        switch eventType {
        case "status_update_event":
            m.instanceId = nil
            m.healthy = nil
        case "health_status_changed_event":
            m.taskId = nil
            m.host = nil
            m.slaveId = nil
            m.ports = nil
        case "failed_health_check_event":
            m.taskId = nil
            m.host = nil
            m.slaveId = nil
            m.ports = nil
            m.version = nil
        case "unhealthy_instance_kill_event":
            m.ports = nil
        case "unhealthy_task_kill_event":
            m.ports = nil
            m.instanceId = nil
        default: break
        }
        return m
    }
}

enum EventEncoding {
    /// Shared: an encoder per event allocated its whole configuration each time. One writes
    /// Marathon's shapes (an `api_post_event`'s app without Pacer's fields), one Pacer's.
    static let marathonEncoder = makeEncoder(pacer: false)
    static let pacerEncoder = makeEncoder(pacer: true)
    static let lock = NSLock()

    private static func makeEncoder(pacer: Bool) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.withoutEscapingSlashes]
        e.userInfo[MarathonShape.key] = !pacer
        return e
    }

    static func data(_ payload: EventPayload, pacer: Bool = false) -> Data {
        lock.lock()
        defer { lock.unlock() }
        return (try? (pacer ? pacerEncoder : marathonEncoder).encode(payload)) ?? Data("{}".utf8)
    }

    /// Both shapes of one payload, each encoded only if someone listens for it. (A Pacer
    /// subscriber resuming with `Last-Event-ID` after a time without one gets Marathon's shape of
    /// what it missed; load balancers take a fresh snapshot when they reconnect anyway.)
    static func publication(_ p: EventPayload, for listeners: (marathon: Bool, pacer: Bool)) -> Publication {
        let marathonShape = p.marathon
        let marathon = listeners.marathon ? marathonShape.map { data($0) } : nil
        let pacer = listeners.pacer || marathon == nil ? data(p, pacer: true) : marathon!
        return Publication(type: p.eventType, marathon: marathon, pacer: pacer)
    }

    static func encode(_ event: AppsEvent, at now: Date, for listeners: (marathon: Bool, pacer: Bool)) -> [Publication] {
        let apps = event.apps
        return payloads(event, at: Timestamp.string(now)).map { p in
            var publication = publication(p, for: listeners)
            publication.apps = apps
            return publication
        }
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

    static func payloads(_ event: AppsEvent, at ts: String) -> [EventPayload] {
        switch event {
        case .statusUpdate(let t, let s):
            var status = EventPayload("status_update_event", at: ts, task: t)
            status.taskStatus = s.state.rawValue
            status.message = s.message ?? ""
            status.ipAddresses = [.init(ipAddress: t.host)]
            status.healthy = s.healthy
            var instance = EventPayload("instance_changed_event", at: ts)
            instance.instanceId = t.id
            instance.condition = condition(s.state)
            instance.runSpecId = t.appId.description
            instance.agentId = t.agentId
            instance.host = t.host
            instance.runSpecVersion = t.version
            instance.goal = s.state.isTerminal ? "Decommissioned" : "Running"
            return [status, instance]
        case .deploymentInfo(let d):
            return [EventPayload("deployment_info", at: ts, deployment: d, withStep: true)]
        case .deploymentSuccess(let d):
            var success = EventPayload("deployment_success", at: ts, deployment: d, withStep: false)
            success.id = d.id
            return [EventPayload("deployment_step_success", at: ts, deployment: d, withStep: true), success]
        case .deploymentFailed(let d, let reason):
            var failed = EventPayload("deployment_failed", at: ts, deployment: d, withStep: false)
            failed.id = d.id
            failed.reason = reason
            return [EventPayload("deployment_step_failure", at: ts, deployment: d, withStep: true), failed]
        case .deploymentStalled(let d, let reason, let since):
            // Pacer's own event: a deployment that came no closer to its target for the stall time.
            var stalled = EventPayload("deployment_stalled", at: ts, deployment: d, withStep: false)
            stalled.id = d.id
            stalled.reason = reason
            stalled.since = Timestamp.string(since)
            return [stalled]
        case .appTerminated(let id):
            var e = EventPayload("app_terminated_event", at: ts)
            e.appId = id.description
            return [e]
        case .healthStatusChanged(let t, let alive):
            var e = EventPayload("health_status_changed_event", at: ts, task: t)
            e.alive = alive
            return [e]
        case .failedHealthCheck(let t, let check):
            var e = EventPayload("failed_health_check_event", at: ts, task: t)
            e.healthCheck = check
            return [e]
        case .unhealthyInstanceKill(let t, let reason):
            var e = EventPayload("unhealthy_instance_kill_event", at: ts, task: t)
            e.reason = reason
            var task = e
            task.eventType = "unhealthy_task_kill_event"
            return [e, task]
        case .taskDraining(let t):
            // Pacer's own event: load balancers take the task out of rotation, then acknowledge.
            return [EventPayload("instance_draining_event", at: ts, task: t)]
        case .taskReady(let t):
            // Pacer's own event: load balancers route to a task with readiness checks once it is ready.
            return [EventPayload("instance_ready_event", at: ts, task: t)]
        }
    }
}

extension AppsEvent {
    /// The apps an event is about: who may read none of them does not hear of it.
    var apps: [PathId] {
        switch self {
        case .statusUpdate(let t, _), .healthStatusChanged(let t, _), .failedHealthCheck(let t, _),
            .unhealthyInstanceKill(let t, _), .taskDraining(let t), .taskReady(let t):
            return [t.appId]
        case .deploymentInfo(let d), .deploymentSuccess(let d), .deploymentFailed(let d, _), .deploymentStalled(let d, _, _):
            return d.affectedApps.compactMap { try? PathId(validating: $0) }
        case .appTerminated(let id): return [id]
        }
    }
}
