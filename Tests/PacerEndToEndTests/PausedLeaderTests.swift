import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// F3: a leader paused (`kill -STOP`) past its lease, then resumed, makes no store write and
/// launches or kills nothing: its etcd transactions fail on the deleted election key and the master
/// refuses calls of its old subscription. It notices and exits.
extension FrameworkHATests {
    func running(_ port: Int, _ app: String) async throws -> Set<String> {
        Set(try await client(port).tasks(app: PathId(validating: app)).filter { $0.state == "TASK_RUNNING" }.map(\.id))
    }

    func testAPausedLeaderThatResumesWritesNothingAndLaunchesNothing() async throws {
        let first = try await agreedLeader()
        // The leader is paused with work in hand: an acknowledged app whose tasks it has only begun to launch.
        let r = try await client(first).raw(
            "POST", "/v2/apps", body: Data(#"{"id":"/f3","cmd":"sleep 3600","instances":6,"cpus":0.01,"mem":16}"#.utf8))
        XCTAssertEqual(r.status, 201, r.text)
        let paused = replicas.removeValue(forKey: first)!
        paused.signal(SIGSTOP)
        defer {
            replicas[first] = paused
            paused.signal(SIGCONT)
        }

        let second = try await agreedLeader(within: 15)
        let put = try await client(second).raw("PUT", "/v2/apps/f3?force=true", body: Data(#"{"instances":4}"#.utf8))
        XCTAssertEqual(put.status, 200, put.text)
        let kept = try await Eventually.value("the new leader settles /f3 at 4", within: 20) { () -> Set<String>? in
            let deployments = try await self.client(second).deployments()
            let tasks = try await self.running(second, "/f3")
            return deployments.isEmpty && tasks.count == 4 ? tasks : nil
        }
        // The new leader is idle now: once its last writes (the finished deployment's removal
        // follows the API's view of it) have landed, the store does not change by itself.
        let quiet = try await Eventually.value("the store is quiet", within: 10) { () -> [String: String]? in
            let before = try await self.etcd.snapshot()
            try await Task.sleep(for: .seconds(1))
            return try await self.etcd.snapshot() == before ? before : nil
        }

        paused.signal(SIGCONT)
        try await Eventually.that("the resumed ex-leader notices and exits", within: 10) { !paused.isRunning }
        try await Task.sleep(for: .seconds(2))  // for anything it might still have sent to land
        let after = try await etcd.snapshot()
        XCTAssertEqual(after, quiet, "the resumed ex-leader wrote to the store")
        let finalTasks = try await running(second, "/f3")
        XCTAssertEqual(finalTasks, kept, "the resumed ex-leader launched or killed a task")
        let state = try await cluster.masterState()
        XCTAssertEqual(
            state.agents.flatMap(\.tasks).filter { $0.state == .running }.count, 4, "no task beyond the 4 the new leader keeps")
        let leaderNow = try await agreedLeader()
        XCTAssertEqual(leaderNow, second)
        XCTAssertTrue(paused.log.contains("leadership lost"), String(paused.log.suffix(2000)))
    }
}

/// The master accepts scheduler calls only from a framework's current subscription.
final class StreamIdTests: ClusterTestCase {
    func testCallsOfAReplacedSubscriptionAreRefused() async throws {
        // A framework of the cluster: it subscribes with the cluster's framework credentials.
        let master = MasterClient(baseURL: URLCredentials.embed(TestCluster.frameworkCredentials, in: cluster.masterURL))
        let info = FrameworkInfo(id: nil, name: "probe", failoverTimeoutSeconds: 60)
        let (firstClient, frameworkId) = try await subscribed(master, info)
        var again = info
        again.id = frameworkId
        let (secondClient, sameId) = try await subscribed(master, again)
        XCTAssertEqual(sameId, frameworkId)
        let revive = SchedulerCall(type: .revive, frameworkId: frameworkId)
        do {
            try await firstClient.call(revive)
            XCTFail("a call on the replaced subscription was accepted")
        } catch {
            XCTAssertTrue("\(error)".contains("not the framework's current subscription"), "\(error)")
        }
        do {
            try await master.call(revive)
            XCTFail("a call without a stream id was accepted")
        } catch {
            XCTAssertTrue("\(error)".contains("missing Mesos-Stream-Id"), "\(error)")
        }
        try await secondClient.call(revive)
    }

    /// Opens a subscription and keeps it open (the stream task lives on), returning the client on
    /// it and the framework id from the SUBSCRIBED event.
    func subscribed(_ master: MasterClient, _ info: FrameworkInfo) async throws -> (MasterClient, String) {
        let box = Box()
        Task {
            for try await batch in master.subscribe(info, subscribed: { await box.set(client: $0) }) {
                if let id = batch.compactMap(\.subscribed?.frameworkId).first { await box.set(frameworkId: id) }
            }
        }
        return try await Eventually.value("subscribed", within: 10) { await box.both }
    }

    actor Box {
        var client: MasterClient?
        var frameworkId: String?
        func set(client: MasterClient) { self.client = client }
        func set(frameworkId: String) { self.frameworkId = frameworkId }
        var both: (MasterClient, String)? { client.flatMap { c in frameworkId.map { (c, $0) } } }
    }
}
