import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// A rolling upgrade to the next release, one process at a time, as docs/OPERATIONS.md tells an
/// operator: the agent, the framework follower, the framework leader, the standby master, the
/// leading master, the load balancer. The next release is the rehearsal build (store schema 2, with a migration that
/// rewrites every record). Under traffic through the load balancer: no request fails, no task is
/// restarted, the store is migrated once — by the first upgraded replica to lead, not by a
/// follower — and the upgraded cluster still deploys.
final class RollingUpgradeTests: ReplicaTestCase {
    override var replicaCount: Int { 2 }
    override func masterArguments(_ etcd: EtcdCluster) -> [String] { ["--store", etcd.storeURL] }
    override var standbyMasters: Int { 1 }

    func storeSchema() throws -> String? {
        let file = dir + "/schema-\(UUID().uuidString.prefix(6)).json"
        let run = try PacerProcess.runToEnd(["framework", "backup", file, "--store", etcd.storeURL])
        XCTAssertEqual(run.status, 0, run.output)
        let snapshot = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any]
        return (snapshot?["entries"] as? [String: String])?["schema/version"]
            .flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) }
    }

    func leadingMaster() async -> Int? {
        for url in cluster.masterURLs {
            guard let r = try? await HTTPTransport(timeout: .seconds(1)).send(.GET, url + "/master/leader"), r.status == 200,
                r.text.contains(#""leading":true"#)
            else { continue }
            return Int(url.split(separator: ":").last!)
        }
        return nil
    }

    /// Stops a process as a package upgrade does (SIGTERM, then the unit starts the new binary).
    func replace(_ process: PacerProcess, start: () throws -> Void) throws {
        process.stop(grace: 10)
        try start()
    }

    override func tearDown() async throws {
        if failed {
            for p in [cluster.master!] + cluster.standbys.values {
                print("===== \(p.name) before its upgrade\n\(p.previousLog.suffix(4000))")
            }
            for url in cluster.masterURLs {
                let r = try? await HTTPTransport(timeout: .seconds(2)).send(.GET, url + "/master/leader")
                print("===== \(url)/master/leader: \(r.map { "\($0.status) \($0.text)" } ?? "no answer")")
            }
        }
        try await super.tearDown()
    }

    func testUpgradingEveryProcessOneAtATimeKeepsEveryTaskAndMigratesTheStoreOnce() async throws {
        let next = PacerProcess.rehearsalBinary
        guard FileManager.default.isExecutableFile(atPath: next) else {
            return XCTFail("\(next) is missing: `make test` builds it (or: make rehearsal)")
        }
        let (lb, _, port) = try await webAppBehindTheVIP()
        defer { lb.process.stop() }
        let pids = try await cluster.taskPids()
        XCTAssertEqual(pids.count, 2)
        XCTAssertEqual(try storeSchema(), "1")
        let load = LoadLoop(port: port, threads: 2)
        cluster.executable = next

        // 1. The agent: its tasks keep running and it adopts them.
        try replace(cluster.agent) { try cluster.startAgent() }
        try await Eventually.that("the upgraded agent is back with its tasks", within: 20) {
            try await self.cluster.taskPids() == pids
        }

        // 2. The framework follower: it must not migrate — the old leader still reads schema 1.
        let oldLeader = try await agreedLeader()
        let follower = try XCTUnwrap(replicas.keys.first { $0 != oldLeader })
        replicas[follower]!.stop(grace: 10)
        try restart(follower, executable: next)
        let stillOld = try await agreedLeader(within: 20)
        XCTAssertEqual(stillOld, oldLeader)
        XCTAssertEqual(try storeSchema(), "1", "a follower does not migrate the store under a leader")

        // 3. The framework leader: it resigns, the upgraded replica leads and migrates.
        replicas[oldLeader]!.stop(grace: 10)
        let newLeader = try await agreedLeader(within: 20)
        XCTAssertEqual(newLeader, follower)
        XCTAssertEqual(try storeSchema(), "2")
        XCTAssertTrue(
            replicas[follower]!.log.contains("migrating the state store"), replicas[follower]!.log.suffix(2000).description)
        try restart(oldLeader, executable: next)

        // 4. The masters: the standby, then the leader (the agent and framework move over).
        let masterBefore = try await Eventually.value("a master leads", within: 10) { await self.leadingMaster() }
        let masterPorts = [cluster.masterPort] + cluster.standbys.keys.sorted()
        for port in masterPorts.filter({ $0 != masterBefore }) + [masterBefore] {
            if port == cluster.masterPort {
                try replace(cluster.master) { try cluster.startMaster() }
            } else {
                try replace(cluster.standbys[port]!) { try cluster.startStandby(port) }
            }
            try await Eventually.that("a master leads with the agent and the framework", within: 30) {
                guard await self.leadingMaster() != nil, let state = try? await self.cluster.masterState() else { return false }
                return state.agents.first?.tasks.filter { $0.state == .running }.count == 2
                    && state.frameworks.contains(where: \.connected)
            }
        }

        // 5. The load balancer: the new one takes the listening sockets over (a hitless restart).
        let oldLB = try lb.restart(executable: next)
        try await Eventually.that("the old LB handed over and exited", within: 20) { !oldLB.isRunning }
        XCTAssertTrue(lb.process.log.contains("took over listening sockets"), lb.process.log)
        let beforeLB = load.snapshot.ok
        try await Eventually.that("requests flow through the upgraded LB", within: 10) { load.snapshot.ok > beforeLB + 50 }

        let result = load.stop()
        let pidsAfterUpgrade = try await cluster.taskPids()
        XCTAssertEqual(pidsAfterUpgrade, pids, "no task restarted by the upgrade")
        XCTAssertGreaterThan(result.ok, 100)
        XCTAssertEqual(result.failed, 0, "\(result.failures.prefix(5))")
        XCTAssertEqual(try storeSchema(), "2")
        for (port, replica) in replicas {
            XCTAssertEqual(replica.log.components(separatedBy: "migrating the state store").count - 1, port == follower ? 1 : 0)
        }

        // The upgraded cluster still deploys: scale up, the new task runs beside the old two.
        let leader = try await agreedLeader(within: 20)
        let scaled = try await client(leader).raw("PUT", "/v2/apps/web", body: Data(#"{"instances":3}"#.utf8))
        XCTAssertEqual(scaled.status, 200, scaled.text)
        try await Eventually.that("three running", within: 30) { try await self.cluster.taskPids().count == 3 }
        let after = try await cluster.taskPids()
        XCTAssertTrue(pids.allSatisfy { after[$0.key] == $0.value }, "the first two tasks are the same processes")
        print("rolling upgrade of 6 processes under traffic: \(result.ok) app requests, 0 failed; store migrated 1 → 2 once")
    }
}
