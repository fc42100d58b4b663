import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PacerModel
import Synchronization
import XCTest

@testable import PacerAgentSim

/// Simulated agents and a master that does not lead: the master redirects to the leader, and an
/// agent that followed the redirect without noting where it led would count itself with the
/// follower while registered with the leader, then ignore the follower's election (its "leader"
/// already): the flake `MasterHATests.testAgentsFollowTheElectionToTheNewLeaderBeforeTheirNextHeartbeat` showed.
final class FleetElectionTests: XCTestCase {
    private final class Masters: Sendable {
        /// Which master registered the agent, by name.
        let registrations = Mutex<[String]>([])
        let followerLeads = Mutex(false)
        let leaderPort = Mutex(0)
        /// While set, a HEARTBEAT is held unanswered (counted in `heartbeatsHeld`).
        let holdHeartbeats = Mutex(false)
        let heartbeatsHeld = Mutex(0)
        let interval = Mutex(30.0)
    }

    private static func master(
        _ name: String, _ masters: Masters, leads: @escaping @Sendable () -> Bool
    ) -> some ApplicationProtocol {
        let router = Router()
        router.post("/api/v1/agent") { request, _ -> Response in
            guard leads() else {
                let location = "http://127.0.0.1:\(masters.leaderPort.withLock { $0 })/api/v1/agent"
                return Response(status: .temporaryRedirect, headers: [.location: location])
            }
            let call = try await request.body.collect(upTo: 1 << 20)
            if String(buffer: call).contains("\"REGISTER\"") { masters.registrations.withLock { $0.append(name) } }
            if String(buffer: call).contains("\"HEARTBEAT\""), masters.holdHeartbeats.withLock({ $0 }) {
                masters.heartbeatsHeld.withLock { $0 += 1 }
                while masters.holdHeartbeats.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(20)) }
            }
            let interval = masters.interval.withLock { $0 }
            let reply = try WireJSON.masterEncoder().encode(AgentCallReply(heartbeatIntervalSeconds: interval))
            return Response(
                status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(bytes: reply)))
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    func testAnAgentRedirectedByAFollowerRegistersWithItOnceItIsElected() async throws {
        let masters = Masters()
        try await Self.withLeaderAndFollower(masters) { leaderPort, followerPort in
            // The follower first, as an agent configured with both masters may have it.
            let fleet = Self.oneAgent(following: [followerPort, leaderPort], heartbeatSeconds: 30)
            let running = Task { await fleet.run() }
            defer { running.cancel() }
            try await Self.waitFor("registered with the leader", masters) { $0 == ["leader"] }

            // The leader dies; the follower is elected.
            masters.followerLeads.withLock { $0 = true }
            await fleet.leaderElected("127.0.0.1:\(followerPort)")
            try await Self.waitFor("registered with the newly elected follower, well before the 30 s heartbeat", masters) {
                $0 == ["leader", "follower"]
            }
        }
    }

    /// The election names a new leader while a heartbeat to the old one is on its way, and the old
    /// one still answers it (200). The agent must register with the new leader now, not at its next
    /// heartbeat: 2,000 simulated agents came back 10.4–11 s after a master leader's kill in some
    /// runs (the heartbeat interval at that size) instead of ~5 s.
    func testAnElectionDuringAHeartbeatStillMovesTheAgentAtOnce() async throws {
        let masters = Masters()
        masters.interval.withLock { $0 = 0.2 }  // heartbeats come quickly until one is held
        try await Self.withLeaderAndFollower(masters) { leaderPort, followerPort in
            let fleet = Self.oneAgent(following: [leaderPort, followerPort], heartbeatSeconds: nil)
            let running = Task { await fleet.run() }
            defer { running.cancel() }
            try await Self.waitFor("registered with the leader", masters) { $0 == ["leader"] }
            masters.holdHeartbeats.withLock { $0 = true }
            let deadline = Date().addingTimeInterval(10)
            while masters.heartbeatsHeld.withLock({ $0 }) == 0 {
                guard Date() < deadline else { return XCTFail("no heartbeat within 10 s") }
                try await Task.sleep(for: .milliseconds(20))
            }
            // From now on a heartbeat's answer would set the next one 30 s away.
            masters.interval.withLock { $0 = 30 }
            masters.followerLeads.withLock { $0 = true }
            await fleet.leaderElected("127.0.0.1:\(followerPort)")
            masters.holdHeartbeats.withLock { $0 = false }  // the old leader answers: 200
            try await Self.waitFor("registered with the new leader, well before the 30 s heartbeat", masters) {
                $0 == ["leader", "follower"]
            }
        }
    }

    /// A leading master and a follower (leading once `followerLeads` is set), both listening while
    /// `body` runs with their ports.
    private static func withLeaderAndFollower(
        _ masters: Masters, _ body: @escaping @Sendable (_ leaderPort: Int, _ followerPort: Int) async throws -> Void
    ) async throws {
        let leader = Self.master("leader", masters, leads: { true })
        try await leader.test(.live) { leaderClient in
            masters.leaderPort.withLock { $0 = leaderClient.port! }
            let follower = Self.master("follower", masters, leads: { masters.followerLeads.withLock { $0 } })
            try await follower.test(.live) { followerClient in try await body(leaderClient.port!, followerClient.port!) }
        }
    }

    /// One simulated agent that knows these masters, in this order (the master's answer sets its
    /// heartbeat interval unless `heartbeatSeconds` does).
    private static func oneAgent(following ports: [Int], heartbeatSeconds: Double?) -> Fleet {
        var config = FleetConfig()
        config.agents = 1
        config.port = 1  // never listened on: these tests send nothing to the agent
        if let heartbeatSeconds { config.heartbeatSeconds = heartbeatSeconds }
        config.masterURLs = ports.map { "http://127.0.0.1:\($0)" }
        return Fleet(config: config, logger: Logger(label: "test"))
    }

    private static func waitFor(_ what: String, _ masters: Masters, _ condition: ([String]) -> Bool) async throws {
        let deadline = Date().addingTimeInterval(10)
        while !condition(masters.registrations.withLock { $0 }) {
            if Date() > deadline {
                return XCTFail("not within 10 s: \(what); registrations: \(masters.registrations.withLock { $0 })")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
