import Foundation
import PacerModel
import XCTest

@testable import PacerAppsCore

func app(
    _ id: String, instances: Int = 1, cpus: Double = 0.1, mem: Double = 16, ports: Int = 1,
    constraints: [Constraint] = []
) -> AppDefinition {
    var a = AppDefinition(id: try! PathId(validating: id))
    a.cmd = "sleep 100"
    a.instances = instances
    a.cpus = cpus
    a.mem = mem
    a.portDefinitions = Array(repeating: PortDefinition(port: 0), count: ports)
    a.constraints = constraints
    return a
}

func offer(
    _ id: String, agent: String = "a1", host: String = "h1", cpus: Double = 4, mem: Double = 4096,
    attributes: [String: String] = [:]
) -> Offer {
    Offer(
        id: id, frameworkId: "f", agentId: agent, hostname: host, attributes: attributes,
        resources: Resources(cpus: cpus, mem: mem, disk: 1000, ports: [PortRange(31000, 31999)]))
}

let t0 = Instant(secondsSince1970: 1_700_000_000)

extension Array where Element == AppsDirective {
    /// What the batch tells subscribers.
    var events: [AppsEvent] { compactMap { if case .publish(let e) = $0 { e } else { nil } } }
    var launched: [TaskInfo] {
        flatMap { d -> [TaskInfo] in
            if case .accept(_, let t, _) = d { return t }
            return []
        }
    }
    var killed: [String] {
        compactMap { d in
            if case .kill(let id, _) = d { return id }
            return nil
        }
    }
    var declined: [String] {
        flatMap { d -> [String] in
            if case .decline(let ids, _) = d { return ids }
            return []
        }
    }
}

extension AppsCore {
    /// A core with `/web` of `instances` tasks, all launched on one offer and running.
    static func running(_ instances: Int) throws -> (AppsCore, [String]) {
        var c = AppsCore(apps: [], tasks: [], idPrefix: "p", now: t0)
        _ = try c.putApp(app("/web", instances: instances), now: t0, force: false)
        let ids = c.onOffers([offer("o1")], now: t0).launched.map(\.taskId)
        _ = c.report(ids, .running, at: t0)
        return (c, ids)
    }

    /// Reports every given task in `state` from its agent, as an update with a uuid.
    /// Whatever the test did, the per-app count of leaving tasks is that of `leaving`.
    mutating func report(_ ids: [String], _ state: TaskState, at now: Instant) -> [AppsDirective] {
        let out = onStatusUpdates(
            ids.map {
                TaskStatus(
                    taskId: $0, agentId: tasks[$0]?.agentId ?? "a1", frameworkId: "f", state: state,
                    uuid: UUID().uuidString, timestamp: now.secondsSince1970)
            }, now: now)
        XCTAssertEqual(leavingByApp, recountedLeaving, "leavingByApp after reporting \(state)")
        return out
    }

    /// `leavingByApp` counted from `leaving` and the task table.
    var recountedLeaving: [PathId: Int] {
        var out: [PathId: Int] = [:]
        for id in leaving.keys {
            guard let t = tasks[id] else {
                XCTFail("\(id) is leaving without a record")
                continue
            }
            XCTAssertTrue(t.isActive, "\(id) is leaving but not active")
            out[t.appId, default: 0] += 1
        }
        return out
    }
}
