import Foundation
import Hummingbird
import HummingbirdTesting
import PacerClient
import PacerModel
import PacerServerKit
import XCTest

@testable import PacerMaster

/// The master does not apply a registration, nor build `/state`, for a caller that gave up while
/// the request waited its turn; heartbeats and status updates are applied however late.
final class MasterCallerDeadlineTests: XCTestCase {
    private static func agent(_ id: String) -> AgentInfo {
        AgentInfo(id: id, hostname: id, url: "http://127.0.0.1:1", resources: Resources(cpus: 1, mem: 64), attributes: [:])
    }

    func testARegistrationWhoseAgentGaveUpIsNotApplied() async throws {
        let master = try await MasterService(config: MasterConfig()).master
        let past = ContinuousClock.now - .milliseconds(1)
        let late = await CallerDeadline.$current.withValue(past) {
            await master.handle(AgentCall.register(Self.agent("a1"), tasks: []))
        }
        XCTAssertEqual(late.status, 504)
        var agents = await master.state().agents
        XCTAssertEqual(agents.count, 0, "not registered")

        let fresh = await master.handle(AgentCall.register(Self.agent("a1"), tasks: []))
        XCTAssertEqual(fresh.status, 200)
        let heartbeat = await CallerDeadline.$current.withValue(past) {
            await master.handle(AgentCall.heartbeat("a1"))
        }
        XCTAssertEqual(heartbeat.status, 200, "a late heartbeat still says the agent was alive")
        agents = await master.state().agents
        XCTAssertEqual(agents.map(\.id), ["a1"])
    }

    func testThroughTheRoutesAGoneCallerGets504AndTheExpiryIsCounted() async throws {
        let master = try await MasterService(config: MasterConfig()).master
        let app = Application(router: MasterRoutes.router(master))
        try await app.test(.router) { client in
            let gone: HTTPFields = [.init(CallerTimeout.header)!: "0"]
            let body = try WireJSON.masterEncoder().encode(AgentCall.register(Self.agent("a2"), tasks: []))
            let register = try await client.execute(
                uri: "/api/v1/agent", method: .post, headers: gone, body: ByteBuffer(data: body))
            XCTAssertEqual(register.status.code, 504)
            let state = try await client.execute(uri: "/state", method: .get, headers: gone)
            XCTAssertEqual(state.status.code, 504)
            let waiting = try await client.execute(
                uri: "/api/v1/agent", method: .post, headers: [.init(CallerTimeout.header)!: "5000"], body: ByteBuffer(data: body)
            )
            XCTAssertEqual(waiting.status.code, 200)
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            let line = String(buffer: metrics.body).split(separator: "\n").first {
                $0.hasPrefix("pacer_http_requests_expired_total ")
            }
            XCTAssertGreaterThanOrEqual(Int(line?.split(separator: " ").last ?? "") ?? 0, 2, String(line ?? "no line"))
        }
        let agents = await master.state().agents
        XCTAssertEqual(agents.map(\.id), ["a2"], "registered once, by the caller that waited")
    }
}
