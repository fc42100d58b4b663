import Foundation
import PacerClient
import PacerTestKit
import XCTest

/// Every flag can come from the YAML configuration file, a `PACER_<PART>_<FLAG>` variable or the
/// command line, in that order of precedence; `pacer config print` says which one set each.
final class ConfigurationTests: XCTestCase {
    private var dir = ""

    override func setUp() {
        dir = NSTemporaryDirectory() + "pacer-config-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    private func write(_ yaml: String) throws -> String {
        let path = dir + "/pacer-\(UUID().uuidString.prefix(4)).yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testPrintSaysWhereEachValueCameFrom() throws {
        let file = try write("framework:\n  port: 9191\n  roles: [a, b]\n  leader-ttl: 3\n")
        let (status, output) = try PacerProcess.runToEnd(
            ["config", "print", "framework", "--config-file", file, "--leader-ttl", "7"],
            environment: ["PACER_FRAMEWORK_LOG_LEVEL": "debug", "PACER_FRAMEWORK_PORT": "9292"])
        XCTAssertEqual(status, 0, output)
        let lines = Set(output.split(separator: "\n").map(String.init))
        XCTAssertTrue(lines.contains("  port: 9292  # environment PACER_FRAMEWORK_PORT"), output)
        XCTAssertTrue(lines.contains("  roles: 'a,b'  # file \(file)"), output)
        XCTAssertTrue(lines.contains("  leader-ttl: 7  # command line"), output)
        XCTAssertTrue(lines.contains("  log-level: debug  # environment PACER_FRAMEWORK_LOG_LEVEL"), output)
        XCTAssertTrue(lines.contains("  deployment-stall-timeout: 300.0  # default"), output)
    }

    func testMistakesNameTheirSource() throws {
        let typo = try write("framework:\n  prot: 9191\n")
        let bad = try PacerProcess.runToEnd(["framework", "--config-file", typo])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.output.contains("configuration file \(typo): 'prot' is not a flag of `pacer framework`"), bad.output)
        let part = try write("frameworks:\n  port: 1\n")
        let wrongPart = try PacerProcess.runToEnd(["master", "--config-file", part])
        XCTAssertTrue(wrongPart.output.contains("'frameworks' is not a part"), wrongPart.output)
        let env = try PacerProcess.runToEnd(["master"], environment: ["PACER_MASTER_PROT": "1"])
        XCTAssertTrue(env.output.contains("environment PACER_MASTER_PROT: 'prot' is not a flag of `pacer master`"), env.output)
        let value = try PacerProcess.runToEnd(
            ["config", "print", "framework"], environment: ["PACER_FRAMEWORK_LEADER_TTL": "soon"])
        XCTAssertNotEqual(value.status, 0)
        XCTAssertTrue(value.output.contains("'soon' is invalid for '--leader-ttl"), value.output)
    }

    func testAFrameworkStartsOnThePortItsSourcesGiveIt() async throws {
        let ports = FreePorts.block(2)
        let file = try write("framework:\n  port: \(ports)\n  state-dir: \(dir)/state\n  master: http://127.0.0.1:1\n")
        let framework = try PacerProcess(
            name: "framework", arguments: ["framework", "--config-file", file], logDir: dir,
            environment: ["PACER_FRAMEWORK_PORT": "\(ports + 1)"])
        defer { framework.stop(grace: 5) }
        let transport = HTTPTransport(timeout: .seconds(1))
        try await Eventually.that("the framework answers on the environment's port, which beats the file's") {
            try await transport.send(.GET, "http://127.0.0.1:\(ports + 1)/ping").status == 200
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/state/framework.sqlite"), "state-dir from the file")
    }

    func testJSONLogsAreOneObjectPerLineWithTheirFields() async throws {
        let port = FreePorts.block(1)
        let master = try PacerProcess(
            name: "master", arguments: ["master", "--port", "\(port)", "--state-dir", dir, "--log-format", "json"], logDir: dir)
        defer { master.stop(grace: 5) }
        try await Eventually.that("the master logs that it listens") { master.log.contains("master listening") }
        let lines = master.log.split(separator: "\n").filter { $0.hasPrefix("{") }
        XCTAssertFalse(lines.isEmpty, master.log)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            XCTAssertNotNil(object?["time"] as? String, String(line))
            XCTAssertNotNil(object?["level"] as? String, String(line))
            XCTAssertNotNil(object?["message"] as? String, String(line))
        }
        let listening = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .first { ($0["message"] as? String) == "master listening" }
        XCTAssertEqual(listening?["address"] as? String, "127.0.0.1:\(port)", "metadata become fields")
        XCTAssertEqual(listening?["label"] as? String, "pacer.master")
    }

    func testLeavingLoopbackIsADecisionNotADefault() throws {
        let refused = try PacerProcess.runToEnd(["framework", "--bind", "0.0.0.0", "--state-dir", dir])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.output.contains("--bind 0.0.0.0 would expose this part's API"), refused.output)
        for part in ["master", "agent", "up"] {
            let r = try PacerProcess.runToEnd(["config", "print", part, "--bind", "10.1.2.3"])
            XCTAssertNotEqual(r.status, 0, "\(part): \(r.output)")
        }
        let stated = try PacerProcess.runToEnd(["config", "print", "framework", "--bind", "10.1.2.3", "--insecure"])
        XCTAssertEqual(stated.status, 0, stated.output)
        for loopback in ["127.0.0.2", "localhost", "::1"] {
            let r = try PacerProcess.runToEnd(["config", "print", "agent", "--bind", loopback])
            XCTAssertEqual(r.status, 0, "\(loopback): \(r.output)")
        }
    }
}
