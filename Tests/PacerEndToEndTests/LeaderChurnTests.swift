import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// F1 and F25 of RELIABILITY.md with a client-side history: writers create apps through whichever
/// replica answers, an observer records every (leader, epoch) it is told; afterwards every
/// acknowledged write must be in the final state and every epoch must have had one leader.
extension FrameworkHATests {
    /// F1: kill -9 of the leader during API writes: no acknowledged write lost, no task restarted.
    func testF1KillingTheLeaderDuringWritesLosesNoAcknowledgedWrite() async throws {
        let first = try await agreedLeader()
        let posted = try await client(first).raw(
            "POST", "/v2/apps", body: Data(#"{"id":"/steady","cmd":"sleep 3600","instances":2,"cpus":0.01,"mem":16}"#.utf8))
        XCTAssertEqual(posted.status, 201, posted.text)
        let before = try await Eventually.value("2 running", within: 15) { () -> Set<String>? in
            let t = try await self.client(first).tasks(app: PathId(validating: "/steady")).filter { $0.state == "TASK_RUNNING" }
            return t.count == 2 ? Set(t.map(\.id)) : nil
        }
        let history = ClientHistory()
        let writes = writer(history, "f1")
        let watch = observer(history)
        try await Task.sleep(for: .seconds(1.5))
        replicas[first]!.kill9()
        let second = try await agreedLeader()
        try await Task.sleep(for: .seconds(2))
        writes.cancel()
        watch.cancel()
        _ = await (writes.value, watch.value)

        let problems = await history.problems(finalState: try await appIds(via: second))
        XCTAssertEqual(problems, [])
        let (acked, failed, slowest, epochs) = await (
            history.acknowledged.count, history.failed, history.slowestAck, history.epochs
        )
        XCTAssertGreaterThan(acked, 20)
        XCTAssertGreaterThanOrEqual(epochs, 2, "the observer saw both terms")
        let after = Set(
            try await client(second).tasks(app: PathId(validating: "/steady")).filter { $0.state == "TASK_RUNNING" }.map(\.id))
        XCTAssertEqual(after, before, "no task restarted")
        print(
            "F1: \(acked) writes acknowledged, \(failed) refused during the failover, slowest ack \(slowest) s, \(epochs) epochs, 0 lost"
        )
    }

    /// F25: twenty abdications while the app is scaled back and forth and apps are created: nothing
    /// acknowledged is lost, one leader per epoch, the count ends exact and deployments finish.
    func testF25TwentyAbdicationsDuringDeploys() async throws {
        let first = try await agreedLeader()
        let posted = try await client(first).raw(
            "POST", "/v2/apps", body: Data(#"{"id":"/churn","cmd":"sleep 3600","instances":2,"cpus":0.01,"mem":16}"#.utf8))
        XCTAssertEqual(posted.status, 201, posted.text)
        let history = ClientHistory()
        let writes = writer(history, "f25")
        let watch = observer(history)
        let urls = replicaURLs
        let target = TargetBox()
        // Scales /churn between 1 and 4 through whichever replica answers; stopped between requests,
        // not cancelled in one (its outcome would be unknown).
        let deployer = Task {
            var i = 0
            while await !target.stopped {
                i += 1
                let n = 1 + i % 4
                let r = try? await MarathonClient(baseURL: urls[i % urls.count]).raw(
                    "PUT", "/v2/apps/churn?force=true", body: Data(#"{"instances":\#(n)}"#.utf8))
                if r?.status == 200 { await target.acked(n) } else { await target.indeterminate(n) }
                try? await Task.sleep(for: .milliseconds(700))
            }
        }
        let started = Date()
        var handovers: [Double] = []
        for _ in 0..<20 {
            let leader = try await agreedLeader(within: 20)
            let epoch = try await self.epoch(via: leader)
            let asked = Date()
            let d = try await client(leader).raw("DELETE", "/v2/leader")
            XCTAssertEqual(d.status, 200, d.text)
            try await Eventually.that("the abdicated leader exits", within: 10) { !self.replicas[leader]!.isRunning }
            try restart(leader)
            let next = try await agreedLeader(within: 20)
            let nextEpoch = try await self.epoch(via: next)
            XCTAssertGreaterThan(nextEpoch, epoch, "a new term (the restarted replica may win it again)")
            handovers.append(Date().timeIntervalSince(asked))
        }
        let churnSeconds = Date().timeIntervalSince(started)
        await target.stop()
        writes.cancel()
        watch.cancel()
        _ = await (deployer.value, writes.value, watch.value)

        let leader = try await agreedLeader()
        try await Eventually.value("deployments finish and /churn has its count", within: 30) { () -> Bool? in
            let deployments = try await self.client(leader).deployments()
            let app = try await self.client(leader).app(PathId(validating: "/churn"))
            let running = try await self.client(leader).tasks(app: PathId(validating: "/churn")).filter {
                $0.state == "TASK_RUNNING"
            }
            return deployments.isEmpty && running.count == app.app.instances ? true : nil
        }
        let wanted = try await client(leader).app(PathId(validating: "/churn")).app.instances
        let possible = await target.possible
        XCTAssertTrue(
            possible.contains(wanted),
            "/churn has \(wanted) instances; the last acknowledged scale and later unanswered ones allow \(possible)")
        try await Task.sleep(for: .seconds(2))
        let state = try await cluster.masterState()
        let live = state.agents.flatMap(\.tasks).filter { $0.id.hasPrefix("churn.") && !$0.state.isTerminal }.count
        XCTAssertEqual(live, wanted, "no duplicate task left at the master")
        let problems = await history.problems(finalState: try await appIds(via: leader))
        XCTAssertEqual(problems, [])
        let (acked, epochs) = await (history.acknowledged.count, history.epochs)
        XCTAssertGreaterThanOrEqual(epochs, 15, "the observer saw the terms change")
        handovers.sort()
        print(
            "F25: 20 abdications in \(Int(churnSeconds)) s, handover median \(handovers[10]) s worst \(handovers.last!) s; "
                + "\(acked) writes acknowledged, 0 lost; \(epochs) epochs observed, one leader each; /churn ends at \(wanted)")
    }

    /// A replica asked to stop (SIGTERM) stops, follower or leader; a leader gives its lease up, so
    /// another replica leads at once rather than after the lease runs out.
    func testSIGTERMStopsEveryReplicaAndTheLeaderHandsOverAtOnce() async throws {
        let first = try await agreedLeader()
        let follower = replicas.keys.first { $0 != first }!
        let stoppingFollower = replicas.removeValue(forKey: follower)!
        stoppingFollower.signal(SIGTERM)
        try await Eventually.that("a follower stops on SIGTERM", within: 5) { !stoppingFollower.isRunning }
        let stoppingLeader = replicas.removeValue(forKey: first)!
        stoppingLeader.signal(SIGTERM)
        let asked = Date()
        try await Eventually.that("the leader stops on SIGTERM", within: 10) { !stoppingLeader.isRunning }
        let next = try await agreedLeader()
        let handover = Date().timeIntervalSince(asked)
        XCTAssertNotEqual(next, first)
        XCTAssertLessThan(handover, 2.0, "handed over before its lease (2 s) could run out")
        print("SIGTERM: leader stopped and another replica led \(handover) s later")
    }

    /// F2: a follower forwards once; a request that a replica already forwarded is refused, not
    /// forwarded again (two replicas with stale views would bounce it between them forever).
    func testF2AForwardingLoopIsDetected() async throws {
        let leader = try await agreedLeader()
        let follower = replicas.keys.first { $0 != leader }!
        let forwarded = try await HTTPTransport().send(
            .GET, cluster.frameworkURL(port: follower) + "/v2/apps", headers: [("X-Forwarded-By", "pacer-follower")])
        XCTAssertEqual(forwarded.status, 502)
        XCTAssertTrue(forwarded.text.contains("forwarding loop"), forwarded.text)
        let plain = try await HTTPTransport().send(.GET, cluster.frameworkURL(port: follower) + "/v2/apps")
        XCTAssertEqual(plain.status, 200, "forwarded once, answered by the leader")
        let console = try await HTTPTransport().send(.GET, cluster.frameworkURL(port: follower) + "/ui/deployments")
        XCTAssertEqual(console.status, 200, "a follower forwards the console to the leader: \(console.text.prefix(300))")
        XCTAssertTrue(console.text.contains("Deployments"))
        let viaFollower = try await self.epoch(via: follower)
        let viaLeader = try await self.epoch(via: leader)
        XCTAssertEqual(viaFollower, viaLeader, "every replica names the same term")
    }
}

/// The scale a client may expect: the last acknowledged one, or one sent after it whose answer
/// was lost (applied or not, the client cannot know).
actor TargetBox {
    var last = 2
    var unanswered: Set<Int> = []
    var stopped = false
    func acked(_ n: Int) {
        last = n
        unanswered = []
    }
    func indeterminate(_ n: Int) { unanswered.insert(n) }
    func stop() { stopped = true }
    var possible: Set<Int> { unanswered.union([last]) }
}
