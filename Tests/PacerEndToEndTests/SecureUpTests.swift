import AsyncHTTPClient
import Foundation
import NIOSSL
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// `pacer up --secure`: the production-like one-command cluster. Every part speaks HTTPS with a
/// certificate from a CA it made itself, the API wants the admin token it wrote, and the CLI
/// finds both in the state directory.
class SecureUpTestCase: DiagnosedTestCase {
    var dir = ""
    var up: PacerProcess?
    var port = 0
    var client: HTTPClient?
    var state: String { dir + "/state" }
    var ca: String { state + "/tls/ca.pem" }
    var token: String {
        ((try? String(contentsOfFile: state + "/admin-token", encoding: .utf8)) ?? "").trimmingCharacters(
            in: .whitespacesAndNewlines)
    }
    var api: String { "https://127.0.0.1:\(port)" }
    var master: String { "https://127.0.0.1:\(port + 1)" }
    var agent: String { "https://127.0.0.1:\(port + 2)" }
    var lbAdmin: String { "https://127.0.0.1:\(port + 4)" }

    /// A client that trusts the cluster's CA (made before the first start, so made afresh here).
    var transport: HTTPTransport {
        if client == nil {
            var config = TLSConfiguration.makeClientConfiguration()
            config.trustRoots = .file(ca)
            client = HTTPClient(
                eventLoopGroupProvider: .singleton,
                configuration: .init(tlsConfiguration: config, redirectConfiguration: .disallow))
        }
        return HTTPTransport(client: client!, timeout: .seconds(5))
    }
    var admin: [(String, String)] { [("Authorization", "Bearer \(token)")] }

    override func setUp() async throws {
        dir = NSTemporaryDirectory() + "pacer-secure-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir + "/cwd", withIntermediateDirectories: true)
    }

    func start(_ extra: [String] = []) async throws {
        let (up, p) = try startUp(in: dir, ["--secure"] + extra, directory: dir + "/cwd")
        self.up = up
        port = p
        try await Eventually.that("the framework knows the agent over HTTPS", within: 30) {
            guard FileManager.default.fileExists(atPath: self.ca) else { return false }
            let r = try? await self.transport.send(.GET, self.api + "/v2/info?embed=pacer", headers: self.admin)
            return r?.text.contains("largestAgent") == true
        }
    }

    func stop() {
        up?.stop(grace: 15)
        up = nil
    }

    override func tearDown() async throws {
        if failed, let up { print("===== up\n\(up.log.suffix(6000))") }
        stop()
        try? await client?.shutdown()
        try? FileManager.default.removeItem(atPath: dir)
        try await super.tearDown()
    }

    func sh(_ script: String) -> (status: Int32, out: String) {
        let r = Command.run("/bin/sh", ["-c", script])
        return (r.status, r.out)
    }

    /// The CLI as a user runs it: from the directory holding `.pacer`… here the state directory is
    /// named, as `--state-dir` or `PACER_STATE_DIR` would name it.
    func cli(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try PacerProcess.runToEnd(arguments, environment: ["PACER_STATE_DIR": state])
    }

    func post(_ spec: String, _ headers: [(String, String)]) async throws -> HTTPResult {
        try await transport.send(
            .POST, api + "/v2/apps", body: Data(spec.utf8), headers: headers + [("Content-Type", "application/json")])
    }
}

final class SecureUpTests: SecureUpTestCase {
    func testEveryPartSpeaksHTTPSTheAPIWantsTheTokenAndTheCLIFindsBoth() async throws {
        try await start()
        // What was made, and how it is kept.
        for (file, mode) in [("admin-token", 0o600), ("tls/ca-key.pem", 0o600), ("tls/server-key.pem", 0o600)] {
            let attributes = try FileManager.default.attributesOfItem(atPath: state + "/" + file)
            XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, mode, file)
        }
        XCTAssertEqual(token.count, 64, "a 256-bit token, hex")
        XCTAssertEqual(sh("openssl verify -CAfile \(ca) \(state)/tls/server.pem").status, 0)
        XCTAssertTrue(
            sh("openssl x509 -in \(state)/tls/server.pem -noout -ext subjectAltName").out.contains("IP Address:127.0.0.1"))

        // HTTPS only, on every part; TLS 1.1 refused.
        for p in [port, port + 1, port + 2, port + 4] {
            XCTAssertNotEqual(sh("curl -s -m 3 http://127.0.0.1:\(p)/ping").status, 0, "plain HTTP on :\(p)")
            XCTAssertEqual(sh("curl -s -m 3 -o /dev/null -w '%{http_code}' --cacert \(ca) https://127.0.0.1:\(p)/ping").status, 0)
            XCTAssertNotEqual(
                sh("curl -s -m 3 --cacert \(ca) --tls-max 1.1 https://127.0.0.1:\(p)/ping").status, 0, "TLS 1.1 on :\(p)")
        }
        // The token, as a bearer token or as the admin's password; nothing without it.
        let anonymous = try await transport.send(.GET, api + "/v2/apps")
        XCTAssertEqual(anonymous.status, 401)
        let basic = try await transport.send(.GET, URLCredentials.embed("admin:" + token, in: api) + "/v2/apps")
        XCTAssertEqual(basic.status, 200, basic.text)
        let lbMetrics = try await transport.send(.GET, lbAdmin + "/metrics")
        XCTAssertEqual(lbMetrics.status, 401, "the LB's admin port wants the token too")
        try await Eventually.that("the LB follows the framework over HTTPS with its own principal", within: 20) {
            try await self.transport.send(.GET, self.lbAdmin + "/metrics", headers: self.admin).text.contains(
                "pacer_lb_framework_connected 1")
        }

        // The CLI: no URL, CA or credentials given — all found through the state directory.
        let spec = dir + "/web.json"
        try #"{"id":"/web","cmd":"sleep 3600","instances":1,"cpus":0.1,"mem":16}"#.write(
            toFile: spec, atomically: true, encoding: .utf8)
        let deployed = try cli(["app", "deploy", spec, "--url", api, "--timeout", "30"])
        XCTAssertEqual(deployed.status, 0, deployed.output)
        let listed = try cli(["app", "list", "--url", api])
        XCTAssertTrue(listed.output.contains("/web"), listed.output)
        let roles = try cli(["cluster", "weight", "--role", "web", "2", "--master", master])
        XCTAssertEqual(roles.status, 0, "an operator change on the master, with the token: \(roles.output)")
        let elsewhere = try cli(["app", "list", "--url", "https://localhost.invalid:\(port)"])
        XCTAssertNotEqual(elsewhere.status, 0)
        XCTAssertFalse(elsewhere.output.contains(token), "the token is never shown")
        XCTAssertFalse(up!.log.contains(token), "nor logged")

        // A restart keeps the CA and the token: clients that trust them keep working.
        let before = try String(contentsOfFile: ca, encoding: .utf8) + token
        stop()
        try await start()
        XCTAssertEqual(try String(contentsOfFile: ca, encoding: .utf8) + token, before)
        let again = try cli(["app", "list", "--url", api])
        XCTAssertTrue(again.output.contains("/web"), again.output)
    }
}
