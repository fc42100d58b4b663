import Foundation
import PacerLBCore
import PacerModel
import XCTest

final class RoutingTableTests: XCTestCase {
    /// The app as the framework's `/v2/apps?embed=apps.tasks` sends it, as the LB reads it.
    func status(_ json: String, tasks: [MarathonTask]) throws -> RoutedApp {
        var s = AppStatus(app: try JSONDecoder().decode(AppDefinition.self, from: Data(json.utf8)))
        s.tasks = tasks
        let body = try WireJSON.marathonEncoder().encode(["apps": [s]])
        return try XCTUnwrap(try JSONDecoder().decode(AppsSnapshot.self, from: body).apps.first)
    }

    func task(_ id: String, port: Int, state: TaskState = .running, health: [Bool]? = nil) -> MarathonTask {
        var r = TaskRecord(
            id: id, appId: try! PathId(validating: "/a"), agentId: "ag", host: "127.0.0.1", agentAttributes: [:],
            ports: [port, port + 1], servicePorts: [], version: "v", stagedAt: Date(), state: state)
        r.healthCheckResults = health?.map { HealthCheckResult(alive: $0, consecutiveFailures: $0 ? 0 : 1, taskId: id) }
        return MarathonTask(r)
    }

    func testLabelsModesAndBackends() throws {
        let web = try status(
            #"{"id":"/web","cmd":"x","portDefinitions":[{"port":10000},{"port":10001}],"labels":{"HAPROXY_GROUP":"external","HAPROXY_0_MODE":"http","HAPROXY_0_VHOST":"Web.Example.com, www.example.com","HAPROXY_1_BALANCE":"leastconn"}}"#,
            tasks: [task("w1", port: 31000), task("w2", port: 31002, state: .staging)])
        let internalApp = try status(
            #"{"id":"/db","cmd":"x","portDefinitions":[{"port":10002}],"labels":{"HAPROXY_GROUP":"internal"}}"#,
            tasks: [task("d1", port: 31010)])
        let table = RoutingTable.build(apps: [web, internalApp], group: "external")
        XCTAssertEqual(table.services.keys.sorted(), [10000, 10001], "only the configured group")
        XCTAssertEqual(table.services[10000]?.mode, .http)
        XCTAssertEqual(table.services[10000]?.vhosts, ["web.example.com", "www.example.com"])
        XCTAssertEqual(table.services[10001]?.mode, .tcp)
        XCTAssertEqual(table.services[10001]?.balance, .leastConnections)
        XCTAssertEqual(
            table.services[10000]?.backends, [Backend(host: "127.0.0.1", port: 31000, taskId: "w1")], "staging tasks get nothing")
        XCTAssertEqual(table.services[10001]?.backends.map(\.port), [31001], "the second port of each task")
        XCTAssertEqual(RoutingTable.build(apps: [web, internalApp], group: nil).services.count, 3)
    }

    func testOnlyTasksPassingEveryHealthCheckGetTraffic() throws {
        let app = try status(
            #"{"id":"/h","cmd":"x","portDefinitions":[{"port":10000}],"healthChecks":[{"protocol":"TCP"},{"protocol":"HTTP"}]}"#,
            tasks: [
                task("ok", port: 1, health: [true, true]), task("sick", port: 3, health: [true, false]),
                task("unknown", port: 5, health: nil)
            ])
        XCTAssertEqual(RoutingTable.build(apps: [app], group: nil).services[10000]?.backends.map(\.taskId), ["ok"])
    }

    func testBalancers() {
        let b = (0..<3).map { Backend(host: "h", port: $0, taskId: "t\($0)") }
        var rr = RoundRobin()
        XCTAssertEqual((0..<6).compactMap { _ in rr.pick(b, client: 0)?.port }, [0, 1, 2, 0, 1, 2])
        var lc = LeastConnections()
        let first = lc.pick(b, client: 0)!
        let second = lc.pick(b, client: 0)!
        let third = lc.pick(b, client: 0)!
        XCTAssertEqual(Set([first, second, third]), Set(b), "spread while counts are equal")
        lc.released(second)
        XCTAssertEqual(lc.pick(b, client: 0), second, "the one with fewest connections")
        var sh = SourceHash()
        let chosen = (0..<100).map { UInt64($0) }.map { sh.pick(b, client: $0)! }
        XCTAssertEqual(chosen, (0..<100).map { UInt64($0) }.map { sh.pick(b, client: $0)! }, "stable per client")
        XCTAssertEqual(Set(chosen).count, 3)
        // Removing one backend moves only its clients.
        let fewer = Array(b.dropLast())
        for (client, was) in chosen.enumerated() where was != b[2] {
            XCTAssertEqual(sh.pick(fewer, client: UInt64(client)), was)
        }
        XCTAssertNil(rr.pick([], client: 0))
    }

    func testConfigCheckNamesTheOffendingLine() throws {
        let good = try LBConfig.parse(
            "bind: 127.0.0.1\nframeworks: [http://127.0.0.1:8080]\nadmin_port: 9191\ntimeouts:\n  connect: 1.5\n")
        XCTAssertEqual(good.adminPort, 9191)
        XCTAssertEqual(good.timeouts.connect, 1.5)
        func error(_ text: String) -> LBConfigError? {
            do {
                _ = try LBConfig.parse(text)
                return nil
            } catch { return error }
        }
        XCTAssertEqual(error("bind: 127.0.0.1\nhtp_port: 10080\n")?.line, 2)
        XCTAssertEqual(error("bind: x\ntimeouts:\n  connect: soon\n")?.line, 3)
        XCTAssertEqual(error("frameworks: []\n")?.line, 1)
        XCTAssertEqual(error("admin_port: 70000\n")?.line, 1)
        XCTAssertTrue(error("timeouts:\n  conect: 1\n")?.message.contains("conect") ?? false)
        XCTAssertNotNil(error("bind: [unclosed\n"))
    }
}
