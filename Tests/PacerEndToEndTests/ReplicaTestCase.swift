import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// Framework replicas on etcd, with a cluster (master, agent) and helpers to find the leader, write
/// through whichever replica answers and record what clients saw. Subclasses hold the tests.
class ReplicaTestCase: DiagnosedTestCase {
    /// Members of the etcd cluster the replicas use.
    var etcdMembers: Int { 1 }
    var replicaCount: Int { 3 }
    /// Extra arguments of the cluster's master (masters on etcd elect too).
    func masterArguments(_ etcd: EtcdCluster) -> [String] { [] }
    var standbyMasters: Int { 0 }

    var etcd: EtcdCluster!
    var cluster: TestCluster!
    var replicas: [Int: PacerProcess] = [:]
    var dir = ""

    override func setUp() async throws {
        dir = NSTemporaryDirectory() + "pacer-ha-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        etcd = try EtcdCluster(size: etcdMembers, dir: dir)
        try await etcd.ready()
        cluster = try TestCluster(
            masterArgs: masterArguments(etcd), standbyMasters: standbyMasters, frameworkArgs: ["--store", etcd.storeURL])
        replicas[cluster.frameworkPort] = cluster.framework
        for _ in 1..<replicaCount {
            let port = FreePorts.block(1)
            replicas[port] = try PacerProcess(
                name: "framework-\(port)",
                arguments: [
                    "framework", "--port", "\(port)", "--master", cluster.masterURLs.joined(separator: ","), "--state-dir",
                    dir + "/f\(port)"
                ] + cluster.frameworkArgs, logDir: dir)
        }
        try await cluster.ready()
    }

    override func tearDown() async throws {
        if failed {
            print(cluster.logs)
            print(await cluster.diagnostics())
            for r in replicas.values { print("===== \(r.name)\n\(r.log.suffix(3000))") }
        }
        for r in replicas.values { r.stop(grace: 3) }
        await cluster.shutdown()
        etcd.stop()
        try await super.tearDown()
    }

    func leader(via port: Int) async throws -> Int? {
        struct L: Decodable { var leader: String }
        guard let r = try? await HTTPTransport(timeout: .seconds(2)).send(.GET, cluster.frameworkURL(port: port) + "/v2/leader"),
            r.status == 200,
            let l = try? JSONDecoder().decode(L.self, from: r.body)
        else { return nil }
        return l.leader.split(separator: ":").last.flatMap { Int($0) }
    }

    /// Every live replica names the same leader, which is one of them.
    /// The leader every replica names, once it serves its API (its election key names it a moment
    /// before its API is up; a call in that moment is a 503 "no leader").
    func agreedLeader(within seconds: Double = 10) async throws -> Int {
        try await Eventually.value("one leader all replicas agree on, serving", within: seconds) { () -> Int? in
            var seen: Set<Int?> = []
            for (port, p) in self.replicas where p.isRunning { seen.insert(try await self.leader(via: port)) }
            guard seen.count == 1, let l = seen.first ?? nil, self.replicas[l]?.isRunning == true,
                (try? await self.client(l).raw("GET", "/v2/info"))?.status == 200
            else { return nil }
            return l
        }
    }

    func client(_ port: Int) -> MarathonClient { MarathonClient(baseURL: cluster.frameworkURL(port: port)) }

    var replicaURLs: [String] { replicas.keys.sorted().map { cluster.frameworkURL(port: $0) } }
    func writer(_ history: ClientHistory, _ prefix: String) -> Task<Void, Never> { history.writer(replicaURLs, prefix: prefix) }
    func observer(_ history: ClientHistory) -> Task<Void, Never> { history.observer(replicaURLs) }

    /// A load balancer following every replica, with the framework VIP, and `/web` (two HTTP
    /// backends, vhost app.example) routed on its service port.
    func webAppBehindTheVIP() async throws -> (lb: TestLB, vip: Int, port: Int) {
        let vip = FreePorts.block(1)
        let lb = try TestLB(cluster: cluster, frameworks: replicaURLs, extra: "framework_vip: \(vip)")
        let port = FreePorts.block(1)
        let cmd = try Backends.command(Backends.httpRecorder, name: "recorder", in: cluster.dir)
        let spec: [String: Any] = [
            "id": "/web", "cmd": cmd, "instances": 2, "cpus": 0.01, "mem": 64,
            "resourceLimits": ["cpus": "unlimited"], "portDefinitions": [["port": port]],
            "labels": ["HAPROXY_0_MODE": "http", "HAPROXY_0_VHOST": "app.example"]
        ]
        let posted = try await client(vip).raw("POST", "/v2/apps", body: try JSONSerialization.data(withJSONObject: spec))
        XCTAssertEqual(posted.status, 201, posted.text)
        try await Eventually.that("both backends in the LB", within: 20) { try await lb.backends(port).count == 2 }
        return (lb, vip, port)
    }

    func appIds(via port: Int) async throws -> Set<String> {
        Set(try await client(port).apps().map(\.app.id.description))
    }

    /// A replica that abdicated or was killed comes back as a follower (crash-only, as a supervisor would).
    /// `executable`: another build (an upgrade).
    func restart(_ port: Int, executable: String = PacerProcess.binary) throws {
        let old = replicas[port]!
        replicas[port] = try PacerProcess(name: old.name, arguments: old.arguments, logDir: dir, executable: executable)
    }

    func epoch(via port: Int) async throws -> Int64 {
        let r = try await HTTPTransport(timeout: .seconds(2)).expectOK(
            .GET, cluster.frameworkURL(port: port) + "/v2/leader?embed=pacer")
        return try XCTUnwrap(try JSONDecoder().decode(ClientHistory.LeaderAnswer.self, from: r.body).epoch)
    }
}
