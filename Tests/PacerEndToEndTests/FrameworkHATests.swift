import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// Three framework replicas on one etcd: one leads, the others forward to it; killing the leader
/// (`kill -9`) or asking it to abdicate hands over within a lease's time, with every app and task kept.
final class FrameworkHATests: ReplicaTestCase {
    func testKillingTheLeaderHandsOverWithinAFewSecondsAndKeepsEveryTask() async throws {
        let first = try await agreedLeader()
        let follower = replicas.keys.first { $0 != first }!
        // Written through a follower: forwarded to the leader.
        let r = try await client(follower).raw(
            "POST", "/v2/apps",
            body: Data(#"{"id":"/ha","cmd":"sleep 3600","instances":3,"cpus":0.01,"mem":16}"#.utf8))
        XCTAssertEqual(r.status, 201, r.text)
        let before = try await Eventually.value("3 running", within: 15) { () -> Set<String>? in
            let tasks = try await self.client(follower).tasks(app: PathId(validating: "/ha")).filter {
                $0.state == "TASK_RUNNING"
            }
            return tasks.count == 3 ? Set(tasks.map(\.id)) : nil
        }

        try await assertFollowerReportsItsOwnProcess(leader: first)

        replicas[first]!.kill9()
        let killedAt = Date()
        let survivors = replicas.keys.filter { $0 != first }
        let answered = try await Eventually.value("the API answers again", within: 10) { () -> Double? in
            for port in survivors {
                if let apps = try? await self.client(port).apps(), apps.contains(where: { $0.app.id.description == "/ha" }) {
                    return Date().timeIntervalSince(killedAt)
                }
            }
            return nil
        }
        print("framework leader kill -9: API answered again after \(answered) s")
        XCTAssertLessThanOrEqual(answered, 3.0)
        let second = try await agreedLeader()
        XCTAssertNotEqual(second, first)
        // It took over the copy it kept warm as a follower (the app came after it started following).
        let metrics = try await client(second).raw("GET", "/metrics").text
        XCTAssertTrue(
            metrics.contains(#"pacer_state_load_seconds{read="warm"}"#),
            metrics.split(separator: "\n").filter { $0.contains("state_load") }.joined(separator: "\n"))
        try await Task.sleep(for: .seconds(2))
        let after = Set(
            try await client(second).tasks(app: PathId(validating: "/ha")).filter { $0.state == "TASK_RUNNING" }.map(\.id))
        XCTAssertEqual(after, before, "no task restarted, lost or duplicated by the failover")

        // Abdication: the leader gives up, another replica takes over, the old one exits.
        let d = try await client(second).raw("DELETE", "/v2/leader")
        XCTAssertEqual(d.status, 200, d.text)
        try await Eventually.that("the abdicated leader exits", within: 5) { !self.replicas[second]!.isRunning }
        replicas[first] = nil
        let third = try await agreedLeader()
        XCTAssertNotEqual(third, second)
        let kept = Set(
            try await client(third).tasks(app: PathId(validating: "/ha")).filter { $0.state == "TASK_RUNNING" }.map(\.id))
        XCTAssertEqual(kept, before)
    }

    /// A follower's `/metrics` is the leader's view of the cluster with the follower's own process
    /// families: scraped per replica, each reports its own start, memory and descriptors.
    private func assertFollowerReportsItsOwnProcess(leader: Int) async throws {
        // The follower whose start differs most from the leader's, so the leader's figure cannot pass.
        let starts = try replicas.mapValues { try Self.startTime(pid: $0.pid) }
        let follower = starts.keys.filter { $0 != leader }.max {
            abs(starts[$0]! - starts[leader]!) < abs(starts[$1]! - starts[leader]!)
        }!
        let lines = try await client(follower).raw("GET", "/metrics").text.split(separator: "\n")
        XCTAssertTrue(lines.contains("pacer_apps 1"), "the leader's cluster figures: \(lines.prefix(5))")
        let samples = lines.filter { $0.hasPrefix("process_start_time_seconds ") }
        XCTAssertEqual(samples.count, 1, "one process family, not the leader's and the follower's")
        XCTAssertEqual(lines.filter { $0 == "# TYPE pacer_heap_in_use_bytes gauge" }.count, 1)
        let reported = try XCTUnwrap(samples.first.flatMap { Double($0.split(separator: " ")[1]) })
        XCTAssertEqual(
            reported, starts[follower]!, accuracy: 0.011, "the follower's own start, not the leader's \(starts[leader]!)")
    }

    /// When process `pid` started, in seconds since the epoch (`/proc/<pid>/stat` field 22 after boot).
    private static func startTime(pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
        let boot = try String(contentsOfFile: "/proc/stat", encoding: .utf8).split(separator: "\n")
            .first { $0.hasPrefix("btime ") }!.dropFirst(6)
        return Double(boot)! + Double(fields[19])! / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Through the LB: the framework VIP keeps answering across a leader's kill -9, and an app's
    /// traffic does not notice.
    func testTheVIPAndAppTrafficRideThroughAFailover() async throws {
        let first = try await agreedLeader()
        let (lb, vip, port) = try await webAppBehindTheVIP()
        defer { lb.process.stop() }
        let load = LoadLoop(port: port, threads: 4)
        try await Task.sleep(for: .seconds(1))

        replicas[first]!.kill9()
        let killedAt = Date()
        let answered = try await Eventually.value("the VIP answers again", within: 10) { () -> Double? in
            guard let apps = try? await self.client(vip).apps(), apps.contains(where: { $0.app.id.description == "/web" }) else {
                return nil
            }
            return Date().timeIntervalSince(killedAt)
        }
        let second = try await agreedLeader()
        try await Task.sleep(for: .seconds(2))
        let result = load.stop()
        print(
            "framework failover through the VIP: API again after \(answered) s; app traffic \(result.ok) ok, \(result.failed) failed"
        )
        XCTAssertNotEqual(second, first)
        XCTAssertLessThanOrEqual(answered, 3.0)
        XCTAssertGreaterThan(result.ok, 100)
        XCTAssertEqual(result.failed, 0, "\(result.failures.prefix(5))")
    }
}
