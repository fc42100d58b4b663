import Foundation
import PacerClient
import PacerTestKit
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `pacer up` on free ports from the returned one: framework, master, agent, (unused), LB admin,
/// LB virtual hosts, then the agent's 1,000 task ports — all free, or a task is given a port
/// another process holds (seen: the LB's admin port) and fails to start; state under `dir`.
func startUp(in dir: String, _ extra: [String] = [], directory: String? = nil) throws -> (up: PacerProcess, port: Int) {
    let p = FreePorts.block(1006)
    let up = try PacerProcess(
        name: "up",
        arguments: [
            "up", "--state-dir", dir + "/state", "--port", "\(p)", "--master-port", "\(p + 1)", "--agent-port", "\(p + 2)",
            "--task-ports", "\(p + 6)", "--lb-admin-port", "\(p + 4)", "--lb-http-port", "\(p + 5)", "--isolation", "none",
            "--agent-cpus", "2", "--agent-mem", "1024"
        ] + extra, logDir: dir, directory: directory)
    return (up, p)
}

/// `pacer up` is the product on its own: started from any directory it runs the whole cluster,
/// load balancer included, with built-in defaults.
final class UpTests: XCTestCase {
    func testUpFromAnEmptyDirectoryRunsTheLoadBalancerToo() async throws {
        let dir = NSTemporaryDirectory() + "pacer-up-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir + "/cwd", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (up, p) = try startUp(in: dir, directory: dir + "/cwd")
        defer { up.stop(grace: 10) }
        let transport = HTTPTransport(timeout: .seconds(2))
        do {
            try await Eventually.that("the load balancer follows the framework", within: 20) {
                let r = try await transport.send(.GET, "http://127.0.0.1:\(p + 4)/metrics")
                return r.status == 200 && r.text.contains("pacer_lb_framework_connected 1")
            }
            // Once seen answering 503 right after its LB had synced, in one fresh-clone run out of
            // many (cause not found yet): wait for it, and say what it answered meanwhile.
            try await Eventually.that("the framework API answers", within: 10) {
                let info = try await transport.send(.GET, "http://127.0.0.1:\(p)/v2/info")
                if info.status != 200 { print("/v2/info answered \(info.status): \(info.text.prefix(300))") }
                return info.status == 200
            }
        } catch {
            print(up.log)
            throw error
        }
    }
}

/// Marathon's `--http_credentials`: every API request but `/ping` needs them (401 with
/// `WWW-Authenticate` otherwise), and Pacer's own clients — the load balancer following events,
/// the CLI — send them from `http://user:password@host` addresses, as Marathon's clients do.
final class HTTPCredentialsTests: XCTestCase {
    func testTheAPIWantsCredentialsAndPacersClientsSendThem() async throws {
        let dir = NSTemporaryDirectory() + "pacer-auth-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (up, p) = try startUp(in: dir, ["--http-credentials", "ops:pa55:word"])
        defer { up.stop(grace: 10) }
        let transport = HTTPTransport(timeout: .seconds(2))
        let api = "http://127.0.0.1:\(p)"
        do {
            try await Eventually.that("the framework answers /ping without credentials") {
                try await transport.send(.GET, api + "/ping").status == 200
            }
            let anonymous = try await transport.send(.GET, api + "/v2/apps")
            XCTAssertEqual(anonymous.status, 401, anonymous.text)
            XCTAssertEqual(
                anonymous.headers.first { $0.0.lowercased() == "www-authenticate" }?.1,
                #"Basic realm="Pacer", Bearer realm="Pacer""#)
            let wrong = try await transport.send(.GET, "http://ops:nope@127.0.0.1:\(p)/v2/apps")
            XCTAssertEqual(wrong.status, 401)
            let garbage = try await transport.send(
                .GET, api + "/v2/apps", headers: [("Authorization", "Basic " + String(repeating: "A", count: 10_000))])
            XCTAssertEqual(garbage.status, 401)
            let right = try await transport.send(.GET, "http://ops:pa55%3Aword@127.0.0.1:\(p)/v2/apps")
            XCTAssertEqual(right.status, 200, right.text)
            try await Eventually.that("the load balancer follows the framework with its credentials", within: 20) {
                let r = try await transport.send(.GET, "http://127.0.0.1:\(p + 4)/metrics")
                return r.text.contains("pacer_lb_framework_connected 1")
            }
            let cli = try PacerProcess.runToEnd(["app", "list", "--url", "http://ops:pa55%3Aword@127.0.0.1:\(p)"])
            XCTAssertEqual(cli.status, 0, cli.output)
            let refused = try PacerProcess.runToEnd(["app", "list", "--url", api])
            XCTAssertNotEqual(refused.status, 0, refused.output)
            XCTAssertFalse(up.log.contains("pa55"), "the password is never logged")
        } catch {
            print(up.log)
            throw error
        }
    }
}
