import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// Two masters on one etcd: one leads, the other redirects to it (307). Killing the leader
/// (`kill -9`) hands over within a lease's time: the agent and the framework move to the new
/// leader with their tasks, nothing is killed, and the operator's reservations are still there.
final class MasterHATests: DiagnosedTestCase {
    var dir = ""
    var etcd: EtcdCluster!
    var masters: [Int: PacerProcess] = [:]
    var others: [PacerProcess] = []

    override func tearDown() async throws {
        if failed {
            for p in Array(masters.values) + others { print("===== \(p.name)\n\(p.log.suffix(3000))") }
        }
        // The agent leaves its tasks running when it stops (as a standalone agent should): end them here.
        let pids = agentURL.isEmpty ? [:] : ((try? await TestCluster.taskPids(agent: agentURL)) ?? [:])
        for p in Array(masters.values) + others { p.stop(grace: 3) }
        for pid in pids.values {
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
        }
        etcd?.stop()
        try await super.tearDown()
    }

    var agentURL = ""

    /// A fresh directory and a one-member etcd in it.
    func startEtcd(_ prefix: String) async throws {
        dir = NSTemporaryDirectory() + prefix + "\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        etcd = try EtcdCluster(size: 1, dir: dir)
        try await etcd.ready()
    }

    func leading(_ port: Int) async -> Bool {
        guard let r = try? await HTTPTransport(timeout: .seconds(2)).send(.GET, "http://127.0.0.1:\(port)/master/leader") else {
            return false
        }
        return r.status == 200 && r.text.contains(#""leading":true"#)
    }

    func testKillingTheLeadingMasterKillsNoTaskAndKeepsReservations() async throws {
        try await startEtcd("pacer-mha-")
        let base = FreePorts.block(4)
        let (m1, m2, agentPort, frameworkPort) = (base, base + 1, base + 2, base + 3)
        agentURL = "http://127.0.0.1:\(agentPort)"
        let taskPorts = FreePorts.block(50)
        let masterList = "http://127.0.0.1:\(m1),http://127.0.0.1:\(m2)"
        for port in [m1, m2] {
            masters[port] = try PacerProcess(
                name: "master-\(port)",
                arguments: [
                    "master", "--port", "\(port)", "--state-dir", dir + "/m\(port)", "--store", etcd.storeURL, "--agent-timeout",
                    "15"
                ], logDir: dir)
        }
        others.append(
            try PacerProcess(
                name: "agent",
                arguments: [
                    "agent", "--port", "\(agentPort)", "--master", masterList, "--state-dir", dir, "--cpus", "4", "--mem", "4096",
                    "--ports", "\(taskPorts)-\(taskPorts + 49)"
                ], logDir: dir))
        others.append(
            try PacerProcess(
                name: "framework",
                arguments: [
                    "framework", "--port", "\(frameworkPort)", "--master", masterList, "--state-dir", dir
                ], logDir: dir))
        let first = try await Eventually.value("one master leads", within: 15) { () -> Int? in
            let l1 = await self.leading(m1)
            let l2 = await self.leading(m2)
            return l1 != l2 ? (l1 ? m1 : m2) : nil
        }
        let follower = first == m1 ? m2 : m1
        try await Eventually.that("the other master redirects to the leader", within: 5) {
            let head = RawHTTP.send(follower, "GET /state?x=1 HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n").responses.first
            return head?.status == 307 && head?.header("Location") == "http://127.0.0.1:\(first)/state?x=1"
        }
        // Clients given the follower end up at the leader (method and body kept).
        let viaFollower = try await OperatorClient(baseURL: "http://127.0.0.1:\(follower)").setWeight(role: "batch", weight: 2)
        XCTAssertEqual(viaFollower.weights["batch"], 2)

        let client = MarathonClient(baseURL: "http://127.0.0.1:\(frameworkPort)")
        try await Eventually.that("framework knows the agent", within: 20) {
            try await client.raw("GET", "/v2/info?embed=pacer").text.contains("largestAgent")
        }
        let ops = OperatorClient(baseURL: "http://127.0.0.1:\(first)")
        let agentId = try await Eventually.value("agent registered", within: 15) { () -> String? in
            let r = try await HTTPTransport().expectOK(.GET, "http://127.0.0.1:\(first)/state")
            return try WireJSON.masterDecoder().decode(ClusterState.self, from: r.body).agents.first?.id
        }
        _ = try await ops.reserve(Reservation(agentId: agentId, role: "web", resources: Resources(cpus: 1, mem: 256)))
        let r = try await client.raw(
            "POST", "/v2/apps", body: Data(#"{"id":"/m","cmd":"sleep 3600","instances":3,"cpus":0.5,"mem":16}"#.utf8))
        XCTAssertEqual(r.status, 201, r.text)
        let before = try await Eventually.value("3 running", within: 15) { () -> Set<String>? in
            let t = try await client.tasks(app: PathId(validating: "/m")).filter { $0.state == "TASK_RUNNING" }
            return t.count == 3 ? Set(t.map(\.id)) : nil
        }

        masters[first]!.kill9()
        let killedAt = Date()
        try await Eventually.that("the other master leads", within: 10) { await self.leading(follower) }
        let elected = Date().timeIntervalSince(killedAt)
        let state = try await Eventually.value("agent back with its tasks", within: 15) { () -> ClusterState? in
            let r = try await HTTPTransport().expectOK(.GET, "http://127.0.0.1:\(follower)/state")
            let s = try WireJSON.masterDecoder().decode(ClusterState.self, from: r.body)
            return s.agents.first?.tasks.filter { $0.state == .running }.count == 3 && s.frameworks.contains(where: \.connected)
                ? s : nil
        }
        print(
            "master kill -9: new leader after \(elected) s; agent and framework back after \(Date().timeIntervalSince(killedAt)) s"
        )
        XCTAssertLessThanOrEqual(elected, 3.0)
        XCTAssertEqual(Set(state.agents[0].tasks.map(\.id)), before)
        let roles = try await OperatorClient(baseURL: "http://127.0.0.1:\(follower)").roles()
        XCTAssertEqual(roles.first { $0.name == "web" }?.reserved.cpus, 1, "the reservation survived the failover")
        try await Task.sleep(for: .seconds(2))
        let after = Set(try await client.tasks(app: PathId(validating: "/m")).filter { $0.state == "TASK_RUNNING" }.map(\.id))
        XCTAssertEqual(after, before, "no task killed or restarted by the master failover")
        // Asked to stop, a leading master stops (its campaign and lease renewal end with it).
        masters[follower]!.signal(SIGTERM)
        try await Eventually.that("the master stops on SIGTERM", within: 10) { !self.masters[follower]!.isRunning }
    }

    /// Agents follow the masters' election (`--master-election`), as Mesos agents follow ZooKeeper:
    /// with heartbeats 30 s apart, a real agent and 50 simulated ones are with the new leader long
    /// before any of them would have heartbeated again (without the watch, up to 33 s).
    func testAgentsFollowTheElectionToTheNewLeaderBeforeTheirNextHeartbeat() async throws {
        try await startEtcd("pacer-mhw-")
        let base = FreePorts.block(4)
        let (m1, m2, agentPort, fleetPort) = (base, base + 1, base + 2, base + 3)
        agentURL = "http://127.0.0.1:\(agentPort)"
        let masterList = "http://127.0.0.1:\(m1),http://127.0.0.1:\(m2)"
        for port in [m1, m2] {
            masters[port] = try PacerProcess(
                name: "master-\(port)",
                arguments: [
                    "master", "--port", "\(port)", "--state-dir", dir + "/m\(port)", "--store", etcd.storeURL,
                    "--heartbeat-interval", "30", "--agent-timeout", "90"
                ], logDir: dir)
        }
        let watch = ["--master", masterList, "--master-election", etcd.storeURL]
        others.append(
            try PacerProcess(
                name: "agent",
                arguments: ["agent", "--port", "\(agentPort)", "--state-dir", dir, "--cpus", "1", "--mem", "512"] + watch,
                logDir: dir))
        others.append(
            try PacerProcess(
                name: "fleet", arguments: ["agent", "--simulate", "50", "--port", "\(fleetPort)"] + watch, logDir: dir))
        func agents(at port: Int) async -> [ClusterState.Agent]? {
            guard let r = try? await HTTPTransport(timeout: .seconds(2)).expectOK(.GET, "http://127.0.0.1:\(port)/state") else {
                return nil
            }
            return try? WireJSON.masterDecoder().decode(ClusterState.self, from: r.body).agents
        }
        let first = try await Eventually.value("one master leads with all 51 agents", within: 30) { () -> Int? in
            for port in [m1, m2] where await self.leading(port) {
                return await agents(at: port)?.filter(\.reachable).count == 51 ? port : nil
            }
            return nil
        }
        let before = await agents(at: first) ?? []
        let ids = Set(before.map(\.id))
        let follower = first == m1 ? m2 : m1
        masters[first]!.kill9()
        let killedAt = Date()
        try await Eventually.that("every agent registered with the new leader", within: 15) {
            guard await self.leading(follower), let now = await agents(at: follower) else { return false }
            return now.filter(\.reachable).count == 51
        }
        print("master kill -9 with 30 s heartbeats: 51 agents with the new leader after \(Date().timeIntervalSince(killedAt)) s")
        let after = await agents(at: follower) ?? []
        XCTAssertEqual(after.count, 51, "none twice")
        XCTAssertEqual(Set(after.map(\.id)), ids, "the same agents")
        XCTAssertTrue(others[0].log.contains("the masters elected a leader"), others[0].log)
    }
}
