import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// A cluster, a `pacer lb` with short deadlines, and the recording HTTP backend deployed behind
/// service port `port` (virtual host `app.example`) and `port + 1` (`ws.example`, WebSocket allowed).
class HTTPTestCase: ClusterTestCase {
    var lb: TestLB!
    var port = 0
    var backendPort = 0

    var lbTimeouts: [String: Double] { ["http_request": 2, "server": 3, "keep_alive": 5] }
    var lbLimits: [String: Int] { ["body_bytes": 1 << 20, "buffer_bytes": 65536] }
    /// More marathon-lb labels for the recorder app.
    var recorderLabels: [String: String] { [:] }

    override func setUp() async throws {
        try await super.setUp()
        lb = try TestLB(cluster: cluster, timeouts: lbTimeouts, limits: lbLimits)
        let url = lb.adminURL
        try await Eventually.that("lb up", within: 10) { try await HTTPTransport().send(.GET, url + "/healthz").status == 200 }
        port = FreePorts.block(2)
        try await deployRecorder("/rec", instances: 1, extraLabels: recorderLabels)
        let task = try await waitRunning("/rec", 1)[0]
        backendPort = task.ports[0]
        // RUNNING is not listening: a slow interpreter start on a loaded machine left the first
        // request of a test to a refused connection (502) once in ten runs.
        try await Eventually.that("backend listening", within: 20) {
            RawHTTP.send(self.backendPort, "GET /__log HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout: 2).statuses
                == [200]
        }
        try await Eventually.that("backend in the LB") { try await self.backends(self.port).count == 1 }
    }

    override func tearDown() async throws {
        if failed {
            print("===== lb\n" + lb.process.log.suffix(4000))
            print(
                "===== lb stats\n"
                    + ((try? await HTTPTransport().send(.GET, lb.adminURL + "/stats"))?.text.prefix(4000) ?? "(no answer)"))
        }
        lb.process.stop()
        try await super.tearDown()
    }

    func deployRecorder(_ app: String, instances: Int, extraLabels: [String: String] = [:], checks: [[String: Any]] = [])
        async throws
    {
        let cmd = try Backends.command(Backends.httpRecorder, name: "recorder", in: cluster.dir)
        let labels = [
            "HAPROXY_0_MODE": "http", "HAPROXY_0_VHOST": "app.example", "HAPROXY_1_MODE": "http",
            "HAPROXY_1_VHOST": "ws.example", "HAPROXY_1_WEBSOCKET": "true"
        ].merging(extraLabels) { $1 }
        let spec: [String: Any] = [
            "id": app, "cmd": cmd, "instances": instances, "cpus": 0.01, "mem": 64, "resourceLimits": ["cpus": "unlimited"],
            "portDefinitions": [["port": port], ["port": port + 1]], "labels": labels, "healthChecks": checks
        ]
        let r = try await post(String(decoding: try JSONSerialization.data(withJSONObject: spec), as: UTF8.self))
        XCTAssertEqual(r.status, 201, r.text)
    }

    func backends(_ port: Int) async throws -> [String] { try await lb.backends(port) }

    /// One request the backend recorded.
    struct Record: Decodable {
        var conn: Int
        var line: String
        var headers: [[String]]
        var body: String
        var task: String
        func header(_ name: String) -> [String] { headers.filter { $0[0].lowercased() == name }.map { $0[1] } }
    }

    /// What the backend has received so far, asked of it directly (not through the LB).
    func received(_ backend: Int? = nil) -> [Record] {
        let exchange = RawHTTP.send(backend ?? backendPort, "GET /__log HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        guard let body = exchange.responses.first?.body else { return [] }
        return String(decoding: body, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONDecoder().decode(Record.self, from: Data($0.utf8))
        }
    }
}
