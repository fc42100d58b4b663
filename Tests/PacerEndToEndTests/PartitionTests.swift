import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Three agents, each its own host (network namespace, own address); master and framework on the
/// bridge. A partition takes one host's link down (F10, F11 of RELIABILITY.md).
final class PartitionTests: DiagnosedTestCase {
    var lab: NetworkLab!
    var dir = ""
    var processes: [PacerProcess] = []
    var agents: [String: String] = [:]  // host → agent URL
    var client: MarathonClient!

    let agentTimeout = 3.0

    override func setUp() async throws {
        dir = NSTemporaryDirectory() + "pacer-part-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        lab = try NetworkLab()
        let control = lab.controlAddress
        let (masterPort, frameworkPort) = (FreePorts.block(1), FreePorts.block(1))
        let master = "http://\(control):\(masterPort)"
        processes.append(
            try PacerProcess(
                name: "master",
                arguments: [
                    "master", "--bind", control, "--insecure", "--port", "\(masterPort)", "--state-dir", dir + "/master",
                    "--agent-timeout",
                    "\(agentTimeout)"
                ], logDir: dir))
        processes.append(
            try PacerProcess(
                name: "framework",
                arguments: [
                    "framework", "--bind", control, "--insecure", "--port", "\(frameworkPort)", "--master", master, "--state-dir",
                    dir + "/framework"
                ], logDir: dir))
        for host in ["h1", "h2", "h3"] {
            let address = try lab.addHost(host)
            // The same ports on every host: they are different machines as far as the network goes.
            processes.append(
                try lab.start(
                    "agent-" + host, on: host,
                    arguments: [
                        "agent", "--bind", address, "--insecure", "--hostname", address, "--port", "5051", "--master", master,
                        "--state-dir", dir + "/" + host, "--cpus", "2", "--mem", "1024", "--ports", "31000-31099"
                    ], logDir: dir))
            agents[host] = "http://\(address):5051"
        }
        client = MarathonClient(baseURL: "http://\(control):\(frameworkPort)")
        try await Eventually.that("three agents registered", within: 20) {
            let r = try await HTTPTransport(timeout: .seconds(2)).expectOK(.GET, master + "/state")
            return try WireJSON.masterDecoder().decode(ClusterState.self, from: r.body).agents.filter(\.reachable).count == 3
        }
        try await Eventually.that("the framework knows the agents", within: 20) {
            try await self.client.raw("GET", "/v2/info?embed=pacer").text.contains("largestAgent")
        }
    }

    override func tearDown() async throws {
        if failed {
            for p in processes { print("===== \(p.name)\n\(p.log.suffix(4000))") }
        }
        for host in agents.keys { try? lab.heal(host) }
        var pids: [Int32] = []
        for url in agents.values { pids += (try? await TestCluster.taskPids(agent: url))?.values.map { $0 } ?? [] }
        for p in processes.reversed() { p.stop(grace: 3) }
        for pid in pids {
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
        }
        lab?.destroy()
        try? FileManager.default.removeItem(atPath: dir)
        try await super.tearDown()
    }

    func running() async throws -> [MarathonTask] {
        try await client.tasks(app: PathId(validating: "/part")).filter { $0.state == "TASK_RUNNING" }
    }

    func host(of task: MarathonTask) -> String { agents.first { $0.value.contains("//\(task.host):") }!.key }

    func testAShortPartitionChangesNothingAndALongOneIsReplacedThenTheOldCopyKilled() async throws {
        let spec =
            #"{"id":"/part","cmd":"sleep 3600","instances":2,"cpus":0.01,"mem":16,"constraints":[["hostname","UNIQUE"]],"#
            + #""unreachableStrategy":{"inactiveAfterSeconds":3,"expungeAfterSeconds":600}}"#
        let posted = try await client.raw("POST", "/v2/apps", body: Data(spec.utf8))
        XCTAssertEqual(posted.status, 201, posted.text)
        let first = try await Eventually.value("2 running on 2 hosts", within: 20) { () -> [MarathonTask]? in
            let t = try await self.running()
            return t.count == 2 ? t : nil
        }
        let cut = host(of: first[0])
        let oldPids = try await TestCluster.taskPids(agent: agents[cut]!)

        // F10: shorter than the agent timeout: nothing replaced, nothing killed.
        try lab.partition(cut)
        try await Task.sleep(for: .seconds(agentTimeout / 3))
        try lab.heal(cut)
        try await Task.sleep(for: .seconds(agentTimeout + 1))
        let afterBlip = try await running()
        XCTAssertEqual(Set(afterBlip.map(\.id)), Set(first.map(\.id)), "a short partition replaced or killed a task")
        let blipPids = try await TestCluster.taskPids(agent: agents[cut]!)
        XCTAssertEqual(blipPids, oldPids)

        // F11: longer than the timeout and the app's inactiveAfterSeconds.
        try lab.partition(cut)
        let cutAt = Date()
        let client = self.client!
        try await Eventually.that("the cut-off task is unreachable", within: 15) {
            try await client.tasks(app: PathId(validating: "/part")).first { $0.id == first[0].id }?.state == "TASK_UNREACHABLE"
        }
        let unreachableAfter = Date().timeIntervalSince(cutAt)
        let replacement = try await Eventually.value("a replacement runs on the third host", within: 20) { () -> MarathonTask? in
            let t = try await self.running()
            return t.count == 2 && !t.contains { $0.id == first[0].id } ? t.first { $0.id != first[1].id } : nil
        }
        let replacedAfter = Date().timeIntervalSince(cutAt)
        XCTAssertNotEqual(host(of: replacement), cut)
        XCTAssertNotEqual(host(of: replacement), host(of: first[1]))
        // The old copy still runs behind the partition: the framework could not reach it.
        XCTAssertEqual(kill(oldPids[first[0].id]!, 0), 0)

        try lab.heal(cut)
        let healedAt = Date()
        try await Eventually.that("the old copy is killed on its return", within: 20) {
            (try? await TestCluster.taskPids(agent: self.agents[cut]!))?[first[0].id] == nil
        }
        let killedAfter = Date().timeIntervalSince(healedAt)
        try await Task.sleep(for: .seconds(2))
        let final = try await running()
        XCTAssertEqual(Set(final.map(\.id)), [first[1].id, replacement.id], "exactly the count again, the replacement kept")
        try await Eventually.that("the old process is gone", within: 5) { kill(oldPids[first[0].id]!, 0) != 0 }
        print(
            "partition: unreachable after \(unreachableAfter) s, replaced after \(replacedAfter) s; old copy killed \(killedAfter) s after the heal"
        )
    }
}
