import Foundation
import PacerModel
import XCTest

/// Everything on the master/agent wire survives the snake_case encoder and decoder unchanged.
final class WireRoundTripTests: XCTestCase {
    func roundTrip<T: Codable & Equatable>(_ value: T, file: StaticString = #filePath, line: UInt = #line) throws {
        let data = try WireJSON.masterEncoder().encode(value)
        XCTAssertEqual(try WireJSON.masterDecoder().decode(T.self, from: data), value, file: file, line: line)
    }

    func testEveryWireTypeRoundTrips() throws {
        var http = HealthCheck(kind: .http)
        http.ignoreHttp1xx = true
        http.path = "/health"
        var command = HealthCheck(kind: .command)
        command.command = .init(value: "true")
        let task = TaskInfo(
            taskId: "a.1", name: "/a", agentId: "ag",
            resources: Resources(cpus: 0.5, mem: 64, disk: 1, ports: [PortRange(31000, 31001)]),
            command: CommandInfo(
                shell: false, value: nil, arguments: ["sleep", "1"], environment: ["PORT0": "31000"], user: "nobody"),
            killGracePeriodSeconds: 2,
            healthChecks: [TaskHealthCheck(http, taskPorts: [31000]), TaskHealthCheck(command, taskPorts: [])])
        try roundTrip(task)
        let status = TaskStatus(
            taskId: "a.1", agentId: "ag", frameworkId: "f", state: .running, message: "m", reason: "r",
            uuid: "u", timestamp: 1.5, healthy: false,
            health: [
                HealthCheckResult(
                    alive: false, consecutiveFailures: 2, firstSuccess: "x", lastFailureCause: "HTTP 500", taskId: "a.1")
            ])
        try roundTrip(status)
        try roundTrip(SchedulerCall.accept("f", offerIds: ["o"], tasks: [task], refuseSeconds: 1))
        try roundTrip(SchedulerCall.acknowledge("f", [Acknowledgement(agentId: "ag", taskId: "a.1", uuid: "u")]))
        try roundTrip(SchedulerCall.reconcile("f", [TaskRef(taskId: "a.1", agentId: nil)]))
        try roundTrip(SchedulerCall.subscribe(FrameworkInfo(id: "f", name: "pacer", failoverTimeoutSeconds: 60)))
        try roundTrip(SchedulerEvent.update(status))
        try roundTrip(
            SchedulerEvent.offers([
                Offer(
                    id: "o", frameworkId: "f", agentId: "ag", hostname: "h", attributes: ["rack": "r1"],
                    resources: task.resources)
            ]))
        try roundTrip(
            AgentCall.register(
                AgentInfo(id: "ag", hostname: "h", url: "http://h", resources: task.resources),
                tasks: [.init(task: task, frameworkId: "f", state: .running)]))
        try roundTrip(AgentCall.update("ag", [status]))
        try roundTrip(AgentMessage.launch(framework: "f", [task]))
        try roundTrip(AgentMessage.kill(framework: "f", task: "a.1"))
    }
}
