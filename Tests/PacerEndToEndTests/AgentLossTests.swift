import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class AgentLossTests: ClusterTestCase {
    override var agentTimeout: Double { 2 }

    /// A silent agent's tasks become TASK_UNREACHABLE; when it speaks again they are running again.
    func testSilentAgentsTasksAreUnreachableThenBack() async throws {
        _ = try await post(
            sleeper(
                "/far", instances: 1, extra: #","unreachableStrategy":{"inactiveAfterSeconds":300,"expungeAfterSeconds":600}"#))
        let task = try await waitRunning("/far", 1)[0]
        cluster.agent.signal(SIGSTOP)
        defer { cluster.agent.signal(SIGCONT) }
        let client = self.client
        let app = id("/far")
        try await Eventually.that("task unreachable", within: 10) {
            try await client.tasks(app: app).first?.state == "TASK_UNREACHABLE"
        }
        let state = try await cluster.masterState()
        XCTAssertEqual(state.agents.first?.reachable, false)
        cluster.agent.signal(SIGCONT)
        let back = try await waitRunning("/far", 1, within: 10)
        XCTAssertEqual(back[0].id, task.id, "the same task, not a replacement (inactiveAfterSeconds not reached)")
    }
}

final class ExampleAppTests: ClusterTestCase {
    var repo: String { #filePath.replacingOccurrences(of: "/Tests/PacerEndToEndTests/AgentLossTests.swift", with: "") }

    func testTCPExampleEchoes() async throws {
        let spec = try String(contentsOfFile: repo + "/apps/echo-tcp.json", encoding: .utf8)
        let created = try await post(spec)
        XCTAssertEqual(created.status, 201, created.text)
        let tasks = try await waitRunning("/echo-tcp", 2)
        for t in tasks {
            let reply = try await Eventually.value("echo on \(t.ports[0])") { Self.echo("hello pacer\n", port: t.ports[0]) }
            XCTAssertEqual(reply, "hello pacer\n")
        }
    }

    /// One line over TCP, and what comes back.
    static func echo(_ line: String, port: Int) -> String? {
        guard let fd = Loopback.connect(port, receiveTimeout: 2) else { return nil }
        defer { close(fd) }
        guard send(fd, line, line.utf8.count, 0) == line.utf8.count else { return nil }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
    }

    /// The CLI as a user runs it: deploy waits for the deployment; list and show speak tables or JSON.
    func testCLIDeployListShowScaleRemove() async throws {
        let url = cluster.frameworkURL
        func pacer(_ args: String...) throws -> (Int32, String) {
            let r = try PacerProcess.runToEnd(args + ["--url", url])
            return (r.status, r.output)
        }
        let (deployed, deployOut) = try pacer("app", "deploy", repo + "/apps/hello.json")
        XCTAssertEqual(deployed, 0, deployOut)
        XCTAssertTrue(deployOut.contains("/hello"), deployOut)
        let status = try await client.app(id("/hello"))
        XCTAssertEqual(status.tasksRunning, 2, "deploy returns once the deployment is done")
        let (_, listed) = try pacer("app", "list", "--json")
        let apps = try JSONDecoder().decode([AppStatus].self, from: Data(listed.utf8))
        XCTAssertEqual(apps.map(\.app.id.description), ["/hello"])
        let (_, table) = try pacer("app", "list")
        XCTAssertTrue(table.hasPrefix("ID"), table)
        let (scaled, scaleOut) = try pacer("app", "scale", "/hello", "3")
        XCTAssertEqual(scaled, 0, scaleOut)
        let (_, tasks) = try pacer("task", "list", "/hello")
        XCTAssertEqual(tasks.split(separator: "\n").filter { $0.contains("TASK_RUNNING") }.count, 3, tasks)
        let (bad, badOut) = try pacer("app", "show", "/Nope")
        XCTAssertNotEqual(bad, 0)
        XCTAssertTrue(badOut.contains("segment"), badOut)
        let (removed, _) = try pacer("app", "remove", "/hello")
        XCTAssertEqual(removed, 0)
        try await Eventually.that("all gone") { try await self.client.tasks().isEmpty }
    }
}

/// `--agent-removal-rate-limit`: when a whole fleet of agents falls silent at once, the master
/// declares only as many unreachable as the rate permits; those still waiting for a permit when
/// the agents speak again are never declared, and the declared ones register again.
final class AgentRemovalRateTests: DiagnosedTestCase {
    var processes: [PacerProcess] = []

    override func tearDown() async throws {
        if failed { for p in processes { print("===== \(p.name)\n\(p.log.suffix(3000))") } }
        for p in processes {
            p.signal(SIGCONT)
            p.stop(grace: 3)
        }
        try await super.tearDown()
    }

    func testASilentFleetIsDeclaredUnreachableNoFasterThanTheRate() async throws {
        let dir = NSTemporaryDirectory() + "pacer-removal-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let base = FreePorts.block(2)
        let master = "http://127.0.0.1:\(base)"
        processes.append(
            try PacerProcess(
                name: "master",
                arguments: [
                    "master", "--port", "\(base)", "--state-dir", dir, "--agent-timeout", "2", "--heartbeat-interval", "0.5",
                    "--agent-removal-rate-limit", "2/1hrs"
                ], logDir: dir))
        let fleet = try PacerProcess(
            name: "fleet", arguments: ["agent", "--simulate", "6", "--port", "\(base + 1)", "--master", master], logDir: dir)
        processes.append(fleet)
        func state() async -> [ClusterState.Agent]? {
            guard let r = try? await HTTPTransport(timeout: .seconds(2)).expectOK(.GET, master + "/state") else { return nil }
            return try? WireJSON.masterDecoder().decode(ClusterState.self, from: r.body).agents
        }
        func metric(_ name: String) async -> String? {
            guard let r = try? await HTTPTransport(timeout: .seconds(2)).expectOK(.GET, master + "/metrics") else { return nil }
            return r.text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.map { String($0.dropFirst(name.count + 1)) }
        }
        try await Eventually.that("six agents registered", within: 20) { await state()?.filter(\.reachable).count == 6 }

        fleet.signal(SIGSTOP)
        try await Eventually.that("four agents waiting for a permit", within: 20) {
            await metric("pacer_agents_unreachable_deferred") == "4"
        }
        let silent = await state() ?? []
        XCTAssertEqual(silent.filter { !$0.reachable }.count, 2, "two permits: two declared")
        XCTAssertEqual(silent.filter(\.reachable).count, 4, "the others still counted reachable")
        let marked = await metric("pacer_agents_marked_unreachable_total")
        XCTAssertEqual(marked, "2")
        XCTAssertTrue(processes[0].log.contains("waiting for --agent-removal-rate-limit"), processes[0].log)

        fleet.signal(SIGCONT)
        try await Eventually.that("all six reachable again", within: 20) {
            let deferred = await metric("pacer_agents_unreachable_deferred")
            return await state()?.filter(\.reachable).count == 6 && deferred == "0"
        }
        let markedInAll = await metric("pacer_agents_marked_unreachable_total")
        XCTAssertEqual(markedInAll, "2", "the waiting four were never declared")
    }
}
