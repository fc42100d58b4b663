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
            let reply = try WireJSON.masterEncoder().encode(AgentCallReply(heartbeatIntervalSeconds: 30))
            return Response(
                status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(bytes: reply)))
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    func testAnAgentRedirectedByAFollowerRegistersWithItOnceItIsElected() async throws {
        let masters = Masters()
        let leader = Self.master("leader", masters, leads: { true })
        try await leader.test(.live) { leaderClient in
            masters.leaderPort.withLock { $0 = leaderClient.port! }
            let follower = Self.master("follower", masters, leads: { masters.followerLeads.withLock { $0 } })
            try await follower.test(.live) { followerClient in
                var config = FleetConfig()
                config.agents = 1
                config.port = 1  // never listened on: this test sends nothing to the agent
                config.heartbeatSeconds = 30
                // The follower first, as an agent configured with both masters may have it.
                config.masterURLs = ["http://127.0.0.1:\(followerClient.port!)", "http://127.0.0.1:\(leaderClient.port!)"]
                let fleet = Fleet(config: config, logger: Logger(label: "test"))
                let running = Task { await fleet.run() }
                defer { running.cancel() }
                try await Self.waitFor("registered with the leader", masters) { $0 == ["leader"] }

                // The leader dies; the follower is elected.
                masters.followerLeads.withLock { $0 = true }
                await fleet.leaderElected("127.0.0.1:\(followerClient.port!)")
                try await Self.waitFor("registered with the newly elected follower, well before the 30 s heartbeat", masters) {
                    $0 == ["leader", "follower"]
                }
            }
        }
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
