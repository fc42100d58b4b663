import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// Issue 12, scaled down to fit `make test`: 200 simulated agents (real protocol, real HTTP), two
/// framework replicas on etcd, a load balancer; 5,000 health-checked tasks placed, rolled, the
/// leading replica killed. Exact counts, no task lost or duplicated, the LB's table equal to the
/// healthy tasks. No timing is asserted (bench/scale.py measures).
final class ScaleCorrectnessTests: DiagnosedTestCase {
    var dir = ""
    var etcd: EtcdCluster!
    var processes: [PacerProcess] = []
    var replicas: [Int: PacerProcess] = [:]
    var fleetPort = 0

    static let agents = 200, apps = 20, perApp = 250

    override func setUp() async throws {
        dir = NSTemporaryDirectory() + "pacer-scale-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        etcd = try EtcdCluster(size: 1, dir: dir)
        try await etcd.ready()
        let masterPort = FreePorts.block(1)
        let master = "http://127.0.0.1:\(masterPort)"
        processes.append(
            try PacerProcess(name: "master", arguments: ["master", "--port", "\(masterPort)", "--state-dir", dir], logDir: dir))
        for _ in 0..<2 {
            let port = FreePorts.block(1)
            replicas[port] = try PacerProcess(
                name: "framework-\(port)",
                arguments: [
                    "framework", "--port", "\(port)", "--master", master, "--state-dir", dir + "/f\(port)", "--store",
                    etcd.storeURL
                ], logDir: dir)
        }
        fleetPort = FreePorts.block(1)
        processes.append(
            try PacerProcess(
                name: "agents",
                arguments: [
                    "agent", "--simulate", "\(Self.agents)", "--port", "\(fleetPort)", "--master", master,
                    "--cpus", "4", "--mem", "8192", "--ports", "31000-31099", "--sim-healthy-after", "0.5"
                ], logDir: dir))
    }

    override func tearDown() async throws {
        if failed {
            for p in processes + Array(replicas.values) { print("===== \(p.name)\n\(p.log.suffix(3000))") }
        }
        for p in Array(replicas.values) + processes.reversed() { p.stop(grace: 5) }
        etcd.stop()
        try? FileManager.default.removeItem(atPath: dir)
        try await super.tearDown()
    }

    func leader() async throws -> Int {
        try await Eventually.value("a leading replica", within: 20) { () -> Int? in
            for (port, p) in self.replicas where p.isRunning {
                struct L: Decodable { var leader: String }
                guard let r = try? await HTTPTransport(timeout: .seconds(2)).send(.GET, "http://127.0.0.1:\(port)/v2/leader"),
                    r.status == 200,
                    let l = try? JSONDecoder().decode(L.self, from: r.body), l.leader.hasSuffix(":\(port)")
                else { continue }
                return port
            }
            return nil
        }
    }

    /// Every task the fleet runs, by id.
    func fleetTasks() async throws -> [String: String] {
        let r = try await HTTPTransport(timeout: .seconds(10)).expectOK(.GET, "http://127.0.0.1:\(fleetPort)/tasks")
        return try JSONDecoder().decode([String: String].self, from: r.body)
    }

    /// The cluster agrees with itself: per app exactly its instances running and healthy, all of
    /// the current version; the fleet runs exactly the framework's tasks; the LB routes each
    /// service to exactly its healthy tasks. Returns the task ids.
    func consistent(_ api: MarathonClient, _ lb: TestLB, version: [String: String]) async throws -> Set<String>? {
        let apps = try await api.apps(embedTasks: true)
        guard apps.count == Self.apps, try await api.deployments().isEmpty else { return nil }
        var ids: Set<String> = []
        for a in apps {
            let tasks = a.tasks ?? []
            guard tasks.count == Self.perApp,
                tasks.allSatisfy({
                    $0.state == "TASK_RUNNING" && $0.healthCheckResults.allSatisfy(\.alive)
                        && !$0.healthCheckResults.isEmpty
                }),
                version[a.app.id.description].map({ v in tasks.allSatisfy { $0.version == v } }) ?? true
            else { return nil }
            ids.formUnion(tasks.map(\.id))
            let routed = Set(try await lb.backends(a.app.portDefinitions[0].port))
            guard routed == Set(tasks.map { "\($0.host):\($0.ports[0])" }) else { return nil }
        }
        let fleet = try await fleetTasks()
        guard Set(fleet.keys) == ids, fleet.values.allSatisfy({ $0 == "TASK_RUNNING" }) else { return nil }
        return ids.count == Self.apps * Self.perApp ? ids : nil
    }

    func testFiveThousandTasksRollAndSurviveALeaderKillExactly() async throws {
        let first = try await leader()
        let lbPort = FreePorts.block(1)
        let lbConfig = dir + "/lb.yaml"
        try """
        bind: 127.0.0.1
        frameworks: [\(replicas.keys.sorted().map { "http://127.0.0.1:\($0)" }.joined(separator: ", "))]
        admin_port: \(lbPort)
        http_port: 0
        workers: 2
        name: scale-lb
        """.write(toFile: lbConfig, atomically: true, encoding: .utf8)
        let lb = TestLB(
            adopting: try PacerProcess(name: "lb", arguments: ["lb", "--config", lbConfig], logDir: dir), adminPort: lbPort)
        processes.append(lb.process)
        let api = MarathonClient(baseURL: "http://127.0.0.1:\(first)")
        try await Eventually.that("every simulated agent registered", within: 60) {
            let r = try await HTTPTransport().expectOK(.GET, "http://127.0.0.1:\(self.fleetPort)/state")
            return (try JSONSerialization.jsonObject(with: r.body) as? [String: Any])?["registered"] as? Int == Self.agents
        }
        for a in 0..<Self.apps {
            let spec: [String: Any] = [
                "id": "/scale/app-\(a)", "cmd": "sleep 3600", "instances": Self.perApp, "cpus": 0.01, "mem": 8,
                "portDefinitions": [["port": 0]], "healthChecks": [["protocol": "TCP", "gracePeriodSeconds": 30]],
                "upgradeStrategy": ["minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.2]
            ]
            let r = try await api.raw("POST", "/v2/apps", body: try JSONSerialization.data(withJSONObject: spec))
            XCTAssertEqual(r.status, 201, r.text)
        }
        let placed = try await Eventually.value("5,000 healthy tasks, exactly, routed by the LB", within: 240) {
            try await self.consistent(api, lb, version: [:])
        }

        // A rolling restart of half the apps: each ends with exactly its instances, all new.
        var versions: [String: String] = [:]
        for a in 0..<(Self.apps / 2) {
            let r = try await api.raw("POST", "/v2/apps/scale/app-\(a)/restart")
            XCTAssertEqual(r.status, 200, r.text)
            let v = try XCTUnwrap(try JSONDecoder().decode(DeploymentResult.self, from: r.body).version)
            versions["/scale/app-\(a)"] = v
        }
        let rolled = try await Eventually.value("the restart rolled exactly", within: 240) {
            try await self.consistent(api, lb, version: versions)
        }
        XCTAssertEqual(rolled.intersection(placed).count, Self.perApp * Self.apps / 2, "the untouched half kept its tasks")

        // The leading replica killed: the other leads with every task as it was.
        replicas[first]!.kill9()
        replicas[first] = nil
        let second = try await leader()
        let after = try await Eventually.value("the same tasks under the new leader", within: 60) {
            try await self.consistent(MarathonClient(baseURL: "http://127.0.0.1:\(second)"), lb, version: versions)
        }
        XCTAssertEqual(after, rolled, "no task restarted, lost or duplicated by the failover")
    }
}
