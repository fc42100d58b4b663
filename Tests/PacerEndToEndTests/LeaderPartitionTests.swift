import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// F4 of RELIABILITY.md: the leading framework replica loses etcd (and only etcd: clients, the
/// master and the other replica still reach it). Two replicas, each its own host; etcd on an
/// address of its own that the leader's host gets a blackhole route to.
final class LeaderPartitionTests: DiagnosedTestCase {
    var lab: NetworkLab!
    var etcd: EtcdCluster!
    var dir = ""
    var processes: [String: PacerProcess] = [:]

    override func setUp() async throws {
        dir = NSTemporaryDirectory() + "pacer-f4-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        lab = try NetworkLab()
    }

    override func tearDown() async throws {
        if failed {
            for p in processes.values { print("===== \(p.name)\n\(p.log.suffix(4000))") }
        }
        let agentURL = "http://\(lab.controlAddress):\(agentPort)"
        let pids = (try? await TestCluster.taskPids(agent: agentURL)) ?? [:]
        for p in processes.values { p.stop(grace: 3) }
        for pid in pids.values {
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
        }
        etcd?.stop()
        lab?.destroy()
        try? FileManager.default.removeItem(atPath: dir)
        try await super.tearDown()
    }

    var agentPort = 0

    func replica(_ name: String, on host: String, master: String) throws -> PacerProcess {
        try lab.start(
            name, on: host,
            arguments: [
                "framework", "--bind", lab.address(host), "--insecure", "--port", "8080", "--master", master, "--state-dir",
                dir + "/" + name,
                "--store", etcd.storeURL
            ], logDir: dir)
    }

    func leader(at url: String) async -> String? {
        guard let r = try? await HTTPTransport(timeout: .seconds(1)).send(.GET, url + "/v2/leader"), r.status == 200 else {
            return nil
        }
        return (try? JSONDecoder().decode(ClientHistory.LeaderAnswer.self, from: r.body))?.leader
    }

    func testF4ALeaderCutOffFromEtcdStepsDownAndNothingAcknowledgedIsLost() async throws {
        let control = lab.controlAddress
        let etcdAddress = try lab.addControlAddress()
        etcd = try EtcdCluster(size: 1, dir: dir, host: etcdAddress)
        try await etcd.ready()
        let masterPort = FreePorts.block(1)
        agentPort = FreePorts.block(1)
        let taskPorts = FreePorts.block(20)
        let master = "http://\(control):\(masterPort)"
        processes["master"] = try PacerProcess(
            name: "master",
            arguments: [
                "master", "--bind", control, "--insecure", "--port", "\(masterPort)", "--state-dir", dir + "/master"
            ], logDir: dir)
        processes["agent"] = try PacerProcess(
            name: "agent",
            arguments: [
                "agent", "--bind", control, "--insecure", "--hostname", control, "--port", "\(agentPort)", "--master", master,
                "--state-dir",
                dir + "/agent",
                "--cpus", "2", "--mem", "1024", "--ports", "\(taskPorts)-\(taskPorts + 19)"
            ], logDir: dir)
        let (a1, a2) = (try lab.addHost("r1"), try lab.addHost("r2"))
        let (url1, url2) = ("http://\(a1):8080", "http://\(a2):8080")
        // r1 first, so it leads.
        processes["r1"] = try replica("r1", on: "r1", master: master)
        try await Eventually.that("r1 leads", within: 20) { await self.leader(at: url1) == "\(a1):8080" }
        processes["r2"] = try replica("r2", on: "r2", master: master)
        try await Eventually.that("r2 follows r1", within: 20) { await self.leader(at: url2) == "\(a1):8080" }

        let client = MarathonClient(baseURL: url1)
        let posted = try await client.raw(
            "POST", "/v2/apps", body: Data(#"{"id":"/steady","cmd":"sleep 3600","instances":2,"cpus":0.01,"mem":16}"#.utf8))
        XCTAssertEqual(posted.status, 201, posted.text)
        let before = try await Eventually.value("2 running", within: 20) { () -> Set<String>? in
            let t = try await client.tasks(app: PathId(validating: "/steady")).filter { $0.state == "TASK_RUNNING" }
            return t.count == 2 ? Set(t.map(\.id)) : nil
        }
        let history = ClientHistory()
        let writes = history.writer([url1, url2], prefix: "f4")
        let watch = history.observer([url1, url2])
        try await Task.sleep(for: .seconds(1))

        try lab.cut("r1", from: etcdAddress)
        let cutAt = Date()
        // Writes sent to the cut-off leader itself, meanwhile: refused or really stored, never a false 2xx.
        let r1 = processes["r1"]!
        let directWrites = Task { () -> [String: Int] in
            var direct: [String: Int] = [:]
            for i in 0..<10 where r1.isRunning {
                let id = "/direct/d\(i)"
                let r = try? await HTTPTransport(timeout: .seconds(8)).send(
                    .POST, url1 + "/v2/apps",
                    body: Data(#"{"id":"\#(id)","cmd":"sleep 1","instances":0,"cpus":0.01,"mem":8}"#.utf8))
                direct[id] = r?.status ?? 0
            }
            return direct
        }
        try await Eventually.that("r1 steps down (exits)", within: 10) { !self.processes["r1"]!.isRunning }
        let steppedDown = Date().timeIntervalSince(cutAt)
        try await Eventually.that("r2 leads", within: 10) { await self.leader(at: url2) == "\(a2):8080" }
        let handedOver = Date().timeIntervalSince(cutAt)
        let direct = await directWrites.value
        try await Task.sleep(for: .seconds(1))

        try lab.reconnect("r1", to: etcdAddress)
        processes["r1"] = try replica("r1", on: "r1", master: master)
        try await Eventually.that("both replicas name r2", within: 20) {
            let (l1, l2) = (await self.leader(at: url1), await self.leader(at: url2))
            return l1 == "\(a2):8080" && l2 == l1
        }
        writes.cancel()
        watch.cancel()
        _ = await (writes.value, watch.value)

        let final = Set(try await MarathonClient(baseURL: url2).apps().map(\.app.id.description))
        let problems = await history.problems(finalState: final)
        XCTAssertEqual(problems, [])
        let falseYes = direct.filter { (200..<300).contains($0.value) && !final.contains($0.key) }
        XCTAssertEqual(falseYes, [:], "the cut-off leader acknowledged writes that are not stored")
        let after = Set(
            try await MarathonClient(baseURL: url2).tasks(app: PathId(validating: "/steady")).filter {
                $0.state == "TASK_RUNNING"
            }.map(\.id))
        XCTAssertEqual(after, before, "no task restarted")
        let (acked, epochs) = await (history.acknowledged.count, history.epochs)
        XCTAssertLessThanOrEqual(steppedDown, 4.0, "steps down within the lease TTL (2 s) and a renewal")
        print(
            "F4: leader cut off from etcd stepped down after \(steppedDown) s, r2 led after \(handedOver) s; "
                + "direct writes to it answered \(direct.values.sorted()); \(acked) acknowledged, 0 lost; \(epochs) epochs, one leader each"
        )
    }
}
