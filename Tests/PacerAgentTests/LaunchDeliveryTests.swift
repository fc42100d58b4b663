import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import PacerClient
import PacerModel
import XCTest

@testable import PacerMaster

/// What the master tells the framework when a LAUNCH cannot be confirmed. A LAUNCH that timed out
/// after it was sent may be running on the agent: reported `TASK_DROPPED`, the framework launched a
/// copy beside it (issue 12: an overloaded agent, tasks short and over their instances). Only a
/// LAUNCH that never left is dropped.
final class LaunchDeliveryTests: XCTestCase {
    private static let task = TaskInfo(
        taskId: "web.1", name: "web", agentId: "a1", resources: Resources(cpus: 0.5, mem: 64),
        command: CommandInfo(shell: true, value: "sleep 100", arguments: nil, environment: [:]))

    func testALaunchThatTimesOutAfterItReachedTheAgentStaysStaging() async throws {
        let router = Router()
        router.post("/api/v1") { request, _ -> Response in
            _ = try await request.body.collect(upTo: 1 << 20)
            try await Task.sleep(for: .seconds(2))  // it has the LAUNCH; its answer comes too late
            return Response(status: .accepted)
        }
        let agent = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await agent.test(.live) { server in
            let (master, update) = try await Self.deliverLaunch(toAgentAt: "http://127.0.0.1:\(server.port!)")
            XCTAssertNil(update, "the framework is told nothing yet: the agent's own updates will come")
            let tasks = await master.state().agents.flatMap(\.tasks)
            XCTAssertEqual(tasks.map(\.id), [Self.task.taskId], "the master still counts the task on its agent")
            XCTAssertEqual(tasks.first?.state, .staging)
            let unconfirmed = await master.launchesUnconfirmed
            XCTAssertEqual(unconfirmed, 1)
        }
    }

    func testALaunchThatNeverLeftIsReportedDropped() async throws {
        // Nothing listens on port 1: the connection is refused, the LAUNCH certainly not received.
        let (master, update) = try await Self.deliverLaunch(toAgentAt: "http://127.0.0.1:1")
        XCTAssertEqual(update?.taskId, Self.task.taskId)
        XCTAssertEqual(update?.state, .dropped)
        let tasks = await master.state().agents.flatMap(\.tasks)
        XCTAssertEqual(tasks.count, 0)
        let unconfirmed = await master.launchesUnconfirmed
        XCTAssertEqual(unconfirmed, 0)
    }

    /// A master with one agent at `url` and one framework that accepts the first offer with `task`;
    /// the LAUNCH is delivered with a 500 ms timeout. Returns the master and the status update the
    /// framework was sent about the task, if any.
    private static func deliverLaunch(toAgentAt url: String) async throws -> (Master, TaskStatus?) {
        let service = try await MasterService(config: MasterConfig())
        let master = service.master
        let agent = AgentInfo(
            id: "a1", hostname: "h1", url: url, resources: Resources(cpus: 2, mem: 1024, disk: 100), attributes: [:])
        let registered = await master.handle(AgentCall.register(agent, tasks: []))
        XCTAssertEqual(registered.status, 200)
        let (fid, streamId, _, events) = await master.subscribe(FrameworkInfo(name: "f"))
        var stream = events.makeAsyncIterator()
        var offer: Offer?
        while offer == nil, let e = await stream.next() { offer = e.offers?.offers.first }
        try await master.handle(.accept(fid, offerIds: [XCTUnwrap(offer).id], tasks: [task]), streamId: streamId)
        var deliveries = await master.deliveries.makeAsyncIterator()
        let next = await deliveries.next()
        let launch = try XCTUnwrap(next)
        XCTAssertEqual(launch.message.launch?.tasks.map(\.taskId), [Self.task.taskId])

        let client = HTTPClient(
            eventLoopGroupProvider: .singleton, configuration: .init(timeout: .init(connect: .milliseconds(200))))
        await service.send(launch, AgentClient(transport: HTTPTransport(client: client, timeout: .milliseconds(500))))
        try await client.shutdown()
        // Anything the framework was told is already on its stream: the master acted before `send` returned.
        await master.closeStreams()
        var update: TaskStatus?
        while let e = await stream.next() { update = e.update?.status ?? update }
        return (master, update)
    }
}
