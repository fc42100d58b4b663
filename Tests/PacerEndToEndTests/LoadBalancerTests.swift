import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Real traffic through a real `pacer lb` to real task processes.
final class LoadBalancerTests: ClusterTestCase {
    var lb: TestLB!

    override func setUp() async throws {
        try await super.setUp()
        lb = try TestLB(cluster: cluster)
        let url = lb.adminURL
        try await Eventually.that("lb up", within: 10) { try await HTTPTransport().send(.GET, url + "/healthz").status == 200 }
    }

    override func tearDown() async throws {
        if failed { print("===== lb\n" + lb.process.log.suffix(4000)) }
        lb.process.stop()
        try await super.tearDown()
    }

    /// A TCP server that first says which task it is, then echoes lines until EOF.
    static let whoami = """
        import socketserver,os
        class H(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write((os.environ["PACER_TASK_ID"]+"\\n").encode())
                while True:
                    data = self.connection.recv(65536)
                    if not data: break
                    self.connection.sendall(data)
        socketserver.ThreadingTCPServer.allow_reuse_address=True
        socketserver.ThreadingTCPServer(("127.0.0.1",int(os.environ["PORT0"])),H).serve_forever()
        """

    func deployWhoami(_ id: String, instances: Int, servicePort: Int, checks: [[String: Any]] = []) async throws {
        let spec: [String: Any] = [
            "id": id, "cmd": "exec python3 -u -c '\(Self.whoami)'", "instances": instances, "cpus": 0.01, "mem": 64,
            "resourceLimits": ["cpus": "unlimited"],
            "portDefinitions": [["port": servicePort]], "healthChecks": checks, "labels": ["HAPROXY_0_MODE": "tcp"]
        ]
        let r = try await post(String(decoding: try JSONSerialization.data(withJSONObject: spec), as: UTF8.self))
        XCTAssertEqual(r.status, 201, r.text)
    }

    func backends(_ port: Int) async throws -> [String] { try await lb.backends(port) }

    /// Connects through the LB, reads the backend's task id, sends `payload`, half-closes, reads the rest.
    static func exchange(_ port: Int, payload: [UInt8] = Array("ping\n".utf8)) -> (task: String, echoed: [UInt8])? {
        guard let fd = Loopback.connect(port) else { return nil }
        defer { close(fd) }
        // Write and read at once: a large payload cannot fit in the socket buffers both ways.
        let writer = Thread {
            var sent = 0
            while sent < payload.count {
                let n = payload[sent...].withUnsafeBytes { send(fd, $0.baseAddress, min($0.count, 65536), Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return }
                sent += n
            }
            shutdown(fd, Int32(SHUT_WR))
        }
        writer.start()
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 {
                if n < 0 { return nil }
                break
            }
            received += buffer[0..<n]
        }
        guard let nl = received.firstIndex(of: 0x0A) else { return nil }
        return (String(decoding: received[..<nl], as: UTF8.self), Array(received[(nl + 1)...]))
    }

    func testRoutesByServicePortAcrossTasksAndFollowsScaling() async throws {
        let port = FreePorts.block(1)
        let tasks = try await deployServing("/who", instances: 2, servicePort: port)
        var seen = Set<String>()
        for _ in 0..<6 {
            let reply = try XCTUnwrap(Self.exchange(port))
            XCTAssertEqual(reply.echoed, Array("ping\n".utf8))
            seen.insert(reply.task)
        }
        XCTAssertEqual(seen, Set(tasks.map(\.id)), "round-robin over both tasks")
        try await client.scale(id("/who"), instances: 3, force: true)
        let three = try await waitRunning("/who", 3)
        let started = Date()
        try await Eventually.that("three backends") { try await self.backends(port).count == 3 }
        print("LB followed the scale-up \(Date().timeIntervalSince(started)) s after the task ran")
        try await waitListening(three)
        var now = Set<String>()
        for _ in 0..<9 { if let r = Self.exchange(port) { now.insert(r.task) } }
        XCTAssertEqual(now, Set(three.map(\.id)))
    }

    /// Deploys the echo app and returns its tasks once each answers on its own port and the LB
    /// routes to all of them. RUNNING is not listening (no health check here): the LB would skip
    /// a task that refuses the connection.
    func deployServing(_ id: String, instances: Int, servicePort: Int) async throws -> [MarathonTask] {
        try await deployWhoami(id, instances: instances, servicePort: servicePort)
        let tasks = try await waitRunning(id, instances)
        try await waitListening(tasks)
        try await Eventually.that("\(instances) backends in the LB") {
            try await self.backends(servicePort).count == instances
        }
        return tasks
    }

    /// Every task answers the exchange on its own port.
    func waitListening(_ tasks: [MarathonTask]) async throws {
        for t in tasks {
            let port = try XCTUnwrap(t.ports.first)
            try await Eventually.that("\(t.id) listens on \(port)") { Self.exchange(port) != nil }
        }
    }

    func testTaskFailingItsHealthCheckGetsNoTraffic() async throws {
        let port = FreePorts.block(1)
        let check: [String: Any] = [
            "protocol": "COMMAND", "command": ["value": "test -f ok"], "intervalSeconds": 1,
            "timeoutSeconds": 1, "gracePeriodSeconds": 0, "delaySeconds": 0, "maxConsecutiveFailures": 0
        ]
        let whoamiWithFile: [String: Any] = [
            "id": "/gated", "cmd": "touch ok && exec python3 -u -c '\(Self.whoami)'", "instances": 2, "cpus": 0.01, "mem": 64,
            "resourceLimits": ["cpus": "unlimited"],
            "portDefinitions": [["port": port]], "healthChecks": [check]
        ]
        _ = try await post(String(decoding: try JSONSerialization.data(withJSONObject: whoamiWithFile), as: UTF8.self))
        try await Eventually.that("both healthy behind the LB", within: 15) { try await self.backends(port).count == 2 }
        let tasks = try await client.tasks(app: id("/gated"))
        let sick = tasks[0]
        try FileManager.default.removeItem(atPath: "\(cluster.dir)/agent-\(cluster.agentPort)/sandboxes/\(sick.id)/ok")
        try await Eventually.that("the sick task leaves the rotation", within: 10) { try await self.backends(port).count == 1 }
        for _ in 0..<6 {
            let reply = try XCTUnwrap(Self.exchange(port))
            XCTAssertNotEqual(reply.task, sick.id)
        }
    }

    func testHalfCloseLargeTransferAndNoDescriptorLeak() async throws {
        let port = FreePorts.block(1)
        try await deployWhoami("/bulk", instances: 1, servicePort: port)
        try await waitRunning("/bulk", 1)
        try await Eventually.that("backend in the LB") { try await self.backends(port).count == 1 }
        let before = lb.openDescriptors
        let payload = (0..<(5 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let reply = try XCTUnwrap(Self.exchange(port, payload: payload))
        XCTAssertEqual(reply.echoed.count, payload.count, "every byte came back, then the EOF")
        XCTAssertEqual(reply.echoed, payload)
        for _ in 0..<100 { _ = Self.exchange(port) }
        try await Eventually.that("descriptors back to where they were", within: 5) { self.lb.openDescriptors == before }
    }

    func testKeepsServingWhenTheFrameworkIsGone() async throws {
        let port = FreePorts.block(1)
        try await deployWhoami("/steady", instances: 1, servicePort: port)
        let task = try await waitRunning("/steady", 1)[0]
        try await Eventually.that("backend in the LB") { try await self.backends(port).count == 1 }
        cluster.framework.kill9()
        try await Task.sleep(for: .seconds(1))
        XCTAssertEqual(Self.exchange(port)?.task, task.id, "last known backends still serve")
        try cluster.startFramework()
        try await cluster.ready()
        try await Eventually.that("resynced", within: 10) {
            let r = try await HTTPTransport().expectOK(.GET, self.lb.adminURL + "/stats")
            return r.text.contains("\"connected\":true")
        }
        XCTAssertEqual(Self.exchange(port)?.task, task.id)
    }

    /// Deleting an app drains its tasks and drops the app from the LB in one batch of events: the
    /// LB must still confirm the tasks left its rotation, or the framework holds every kill for
    /// its whole drain timeout (and counts it in `pacer_drains_timed_out_total`).
    func testDeletedAppsTasksAreConfirmedOutOfRotationNotTimedOut() async throws {
        let port = FreePorts.block(1)
        _ = try await deployServing("/gone", instances: 2, servicePort: port)
        _ = try await client.remove(id("/gone"), force: true)
        try await Eventually.that("tasks gone", within: 60) {
            try await self.client.tasks().filter { $0.appId == "/gone" }.isEmpty
        }
        let metrics = try await client.raw("GET", "/metrics").text
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("pacer_drains_timed_out_total ") }
        XCTAssertEqual(line, "pacer_drains_timed_out_total 0", "each drain confirmed by the LB, none waited out")
    }

    func testNoBackendClosesTheConnectionAndCountsIt() async throws {
        let port = FreePorts.block(1)
        try await deployWhoami("/empty", instances: 0, servicePort: port)
        try await Eventually.that("listener for an app without tasks") {
            let r = try await HTTPTransport().expectOK(.GET, self.lb.adminURL + "/stats")
            return r.text.contains("\"port\":\(port)")
        }
        XCTAssertNil(Self.exchange(port))
        // Workers publish their counters twice a second (never from the request path).
        let url = lb.adminURL
        try await Eventually.that("the refusal is counted", within: 3) {
            try await HTTPTransport().expectOK(.GET, url + "/stats").text.contains("\"refused\":1")
        }
    }

    /// The framework VIP: API clients keep one address; a replica that does not answer is skipped.
    func testFrameworkVIPReachesALiveReplica() async throws {
        let vip = FreePorts.block(1)
        let dead = "http://127.0.0.1:\(FreePorts.block(1))"
        let front = try TestLB(
            cluster: cluster, timeouts: ["drain": 2], frameworks: [dead, cluster.frameworkURL], extra: "framework_vip: \(vip)")
        defer { front.process.stop() }
        try await Eventually.that("VIP answers", within: 15) {
            try await HTTPTransport().send(.GET, self.cluster.frameworkURL(port: vip) + "/v2/info").status == 200
        }
        let stats = try await HTTPTransport().expectOK(.GET, front.adminURL + "/stats").text
        XCTAssertTrue(stats.contains("\"connected\":true"), stats)
        for _ in 0..<5 {
            let status = try await HTTPTransport().send(.GET, cluster.frameworkURL(port: vip) + "/v2/apps").status
            XCTAssertEqual(status, 200)
        }
    }
}
