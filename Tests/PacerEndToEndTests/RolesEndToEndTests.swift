import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// Roles across the real processes: a reservation made through the master's API is honoured at
/// once and survives a master restart; batch work on an agent makes way for services.
final class RolesEndToEndTests: DiagnosedTestCase {
    var cluster: TestCluster!
    var client: MarathonClient { cluster.client }
    var ops: OperatorClient { OperatorClient(baseURL: cluster.masterURL) }

    override func tearDown() async throws {
        if failed, let cluster { print(cluster.logs) }
        await cluster?.shutdown()
        try await super.tearDown()
    }

    func start(masterArgs: [String] = [], agentArgs: [String] = []) async throws {
        cluster = try TestCluster(masterArgs: masterArgs, agentArgs: agentArgs, frameworkArgs: ["--roles", "*,web"])
        try await cluster.ready()
    }

    func deploy(_ json: String) async throws {
        let r = try await client.raw("POST", "/v2/apps", body: Data(json.utf8))
        XCTAssertEqual(r.status, 201, r.text)
    }

    func running(_ app: String) async throws -> [MarathonTask] {
        try await client.tasks(app: PathId(validating: app)).filter { $0.state == "TASK_RUNNING" }
    }

    func testAReservationIsHonouredAtOnceAndSurvivesAMasterRestart() async throws {
        try await start()
        let agentId = try await cluster.masterState().agents[0].id
        // 4 cpus: 3 reserved for web, 1 left for everyone.
        _ = try await ops.reserve(Reservation(agentId: agentId, role: "web", resources: Resources(cpus: 3, mem: 1024)))
        try await deploy(#"{"id":"/plain","cmd":"sleep 3600","instances":3,"cpus":1,"mem":16}"#)
        try await deploy(#"{"id":"/web","cmd":"sleep 3600","instances":3,"cpus":1,"mem":16,"role":"web"}"#)
        try await Eventually.that("web runs all 3 on its reservation", within: 15) { try await self.running("/web").count == 3 }
        try await Eventually.that("plain gets the one unreserved cpu") { try await self.running("/plain").count == 1 }
        try await Task.sleep(for: .seconds(2))
        let plain = try await running("/plain").count
        XCTAssertEqual(plain, 1, "the reserved cpus went only to role web")

        // An app for a role the framework does not serve is refused with the reason.
        let wrong = try await client.raw("POST", "/v2/apps", body: Data(#"{"id":"/x","cmd":"sleep 1","role":"batch"}"#.utf8))
        XCTAssertEqual(wrong.status, 422, wrong.text)
        XCTAssertTrue(wrong.text.contains("not served"), wrong.text)

        // In use: refused, and nothing changes.
        let body = try JSONEncoder().encode(Reservation(agentId: agentId, role: "web", resources: Resources(cpus: 3, mem: 1024)))
        let refusal = try await HTTPTransport().send(.POST, cluster.masterURL + "/master/unreserve", body: body)
        XCTAssertEqual(refusal.status, 409, refusal.text)
        XCTAssertTrue(refusal.text.contains("in use"), refusal.text)

        // A master restart keeps the reservation, and with it the placement.
        cluster.master.kill9()
        try cluster.startMaster()
        try await Eventually.that("master back with the agent", within: 20) {
            try await self.cluster.masterState().agents.count == 1
        }
        let web = try await ops.roles().first { $0.name == "web" }
        XCTAssertEqual(web?.reserved.cpus, 3)
        try await Task.sleep(for: .seconds(2))
        let (w, p) = (try await running("/web").count, try await running("/plain").count)
        XCTAssertEqual(w, 3)
        XCTAssertEqual(p, 1)

        // Without its tasks the reservation can go back, and /plain takes the room.
        _ = try await client.raw("PUT", "/v2/apps/web?force=true", body: Data(#"{"id":"/web","instances":0}"#.utf8))
        try await Eventually.that("web scaled to 0", within: 15) { try await self.running("/web").isEmpty }
        // Not RUNNING is not gone: until the agent reports them killed, the master answers 409
        // ("in use by tasks of role web"), as it should (failed here once, on a slow CI machine).
        try await Eventually.that("the reservation given back once web's tasks are gone", within: 15) {
            let r = try await HTTPTransport().send(.POST, self.cluster.masterURL + "/master/unreserve", body: body)
            XCTAssertTrue([200, 409].contains(r.status), r.text)
            return r.status == 200
        }
        try await Eventually.that("plain runs all 3 once unreserved", within: 15) { try await self.running("/plain").count == 3 }
    }

    func testAllocationStatisticsThroughTheCLIAndMetrics() async throws {
        try await start(masterArgs: ["--stats-interval", "0.2"])
        try await deploy(#"{"id":"/half","cmd":"sleep 3600","instances":2,"cpus":1,"mem":16}"#)
        try await Eventually.that("2 of 4 cpus allocated", within: 15) { try await self.running("/half").count == 2 }
        try await Task.sleep(for: .seconds(1.5))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: PacerProcess.binary)
        p.arguments = ["cluster", "stats", "--master", cluster.masterURL, "--ca", TestPKI.files.caPath]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        try out.fileHandleForWriting.close()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        print(text)
        XCTAssertEqual(p.terminationStatus, 0, text)
        // Allocation counts what tasks hold plus offers outstanding (an offer sampled while the
        // framework holds it counts the whole agent): at least the tasks' 2 of 4 cpus.
        let peak = text.split(separator: "\n").first { $0.contains("cpus") && $0.contains("peak") }
            .flatMap { $0.split(separator: "peak").last }.flatMap {
                Double($0.replacingOccurrences(of: "%", with: "").trimmingCharacters(in: .whitespaces))
            }
        XCTAssertGreaterThanOrEqual(peak ?? 0, 50, text)
        let metrics = try await HTTPTransport().expectOK(.GET, cluster.masterURL + "/metrics")
        let line = metrics.text.split(separator: "\n").first {
            $0.hasPrefix(#"pacer_cluster_allocated{role="*",resource="cpus"}"#)
        }
        XCTAssertGreaterThanOrEqual(line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) } ?? 0, 2, metrics.text)
    }

    func testIdleServiceCPUIsLentToBatchWork() async throws {
        try await start()
        try await deploy(#"{"id":"/idle","cmd":"sleep 3600","instances":2,"cpus":1.5,"mem":16}"#)
        try await Eventually.that("services run", within: 15) { try await self.running("/idle").count == 2 }
        // 1 cpu is unallocated (room for 2 half-cpu workers); the services' idle 3 cpus make room for 5 more.
        try await deploy(
            #"{"id":"/batch","kind":"batch","cmd":"sleep 3600","instances":8,"cpus":0.5,"mem":16,"portDefinitions":[]}"#)
        let count = try await Eventually.value("batch uses the services' idle cpu", within: 20) { () -> Int? in
            let n = try await self.running("/batch").count
            return n >= 7 ? n : nil
        }
        print("batch workers running beside services holding 3 of 4 cpus: \(count)")
        try await Task.sleep(for: .seconds(2))
        let services = try await running("/idle").count
        XCTAssertEqual(services, 2)
    }

    func testServicesPreemptBatchTasksWithinSeconds() async throws {
        try await start()
        // The agent offers 4 cpus: eight half-cpu batch workers fill it.
        try await deploy(#"{"id":"/batch","kind":"batch","cmd":"sleep 3600","instances":8,"cpus":0.5,"mem":16}"#)
        try await Eventually.that("batch fills the agent", within: 20) { try await self.running("/batch").count == 8 }
        let updates = Updates()
        let client = self.client
        let follower = Task {
            do { for try await e in client.events(types: ["status_update_event"]) { await updates.add(e.data) } } catch {}
        }
        defer { follower.cancel() }
        try await Task.sleep(for: .milliseconds(300))
        let started = Date()
        try await deploy(#"{"id":"/svc","cmd":"sleep 3600","instances":2,"cpus":1,"mem":16}"#)
        try await Eventually.that("the service runs", within: 5) { try await self.running("/svc").count == 2 }
        let took = Date().timeIntervalSince(started)
        print("service of 2 × 1 cpu on an agent full of batch work: running after \(took) s")
        XCTAssertLessThan(took, 5)

        // Killed with a reason that says preempted: exactly as many as the service needs.
        let preempted = try await Eventually.value("batch tasks preempted", within: 10) { () -> [String]? in
            let killed = await updates.all.filter { $0.contains("TASK_KILLED") && $0.contains("preempted") }
            return killed.count >= 4 ? killed : nil
        }
        try await Task.sleep(for: .seconds(1))
        let allKilled = await updates.all.filter { $0.contains("TASK_KILLED") }
        XCTAssertEqual(allKilled.count, 4, "as many batch tasks as the service needs, no more")
        XCTAssertTrue(preempted.allSatisfy { $0.contains("/batch") }, "\(preempted)")
        let svc = try await running("/svc").map(\.id)
        try await Task.sleep(for: .seconds(3))
        let later = try await running("/svc").map(\.id)
        XCTAssertEqual(Set(svc), Set(later), "no service task is ever preempted")
        // Sleeping services use almost none of their cpus: once measured, batch work borrows them again.
        let batchLeft = try await running("/batch").count
        XCTAssertGreaterThanOrEqual(batchLeft, 4)
    }
}

actor Updates {
    var all: [String] = []
    func add(_ s: String) { all.append(s) }
}
