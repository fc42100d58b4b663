import Foundation
import PacerClient
import PacerTestKit
import XCTest

/// The OpenAPI document each process serves at `/openapi.json` is kept true by schemathesis
/// (PyPI, in `.build/compat-venv`) against live processes: no server error, every status and
/// answer as documented, schema-violating requests refused (RELIABILITY A6). The framework and
/// master run with simulated agents, so the thousands of generated app specs never execute a
/// generated command; the real agent's API is judged on its own (it joins no master).
final class OpenAPITests: DiagnosedTestCase {
    var dir = ""
    var processes: [PacerProcess] = []

    var repo: String { #filePath.replacingOccurrences(of: "/Tests/PacerEndToEndTests/OpenAPITests.swift", with: "") }

    override func tearDown() async throws {
        if failed {
            for p in processes { print("===== \(p.name)\n" + p.log.suffix(3000)) }
        }
        for p in processes { p.stop() }
        try? FileManager.default.removeItem(atPath: dir)
        try await super.tearDown()
    }

    func testEveryProcessHonoursItsOpenAPIDocument() async throws {
        let schemathesis = repo + "/.build/compat-venv/bin/schemathesis"
        guard FileManager.default.isExecutableFile(atPath: schemathesis) else {
            return XCTFail("\(schemathesis) is missing: `make test` installs it (Tests/compat/requirements.txt)")
        }
        dir = NSTemporaryDirectory() + "pacer-openapi-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let base = FreePorts.block(6)
        let (master, fleet, framework, agent, admin) = (base, base + 1, base + 2, base + 3, base + 4)
        let masterURL = "http://127.0.0.1:\(master)"
        processes.append(
            try PacerProcess(name: "master", arguments: ["master", "--port", "\(master)", "--state-dir", dir + "/m"], logDir: dir)
        )
        processes.append(
            try PacerProcess(
                name: "agents",
                arguments: [
                    "agent", "--simulate", "3", "--port", "\(fleet)", "--master", masterURL, "--cpus", "8", "--mem", "16384"
                ], logDir: dir))
        processes.append(
            try PacerProcess(
                name: "framework",
                arguments: [
                    "framework", "--port", "\(framework)", "--master", masterURL, "--state-dir", dir + "/f"
                ], logDir: dir))
        // A real agent for its own API; its master does not exist, so nothing is ever launched on it.
        processes.append(
            try PacerProcess(
                name: "agent",
                arguments: [
                    "agent", "--port", "\(agent)", "--master", "http://127.0.0.1:\(FreePorts.block(1))", "--state-dir",
                    dir + "/a",
                    "--cpus", "1", "--mem", "256", "--ports", "\(base + 5)-\(base + 5)"
                ], logDir: dir))
        let lbConfig = dir + "/lb.yaml"
        try "bind: 127.0.0.1\nframeworks: [http://127.0.0.1:\(framework)]\nadmin_port: \(admin)\nhttp_port: 0\nworkers: 1\n"
            .write(toFile: lbConfig, atomically: true, encoding: .utf8)
        processes.append(try PacerProcess(name: "lb", arguments: ["lb", "--config", lbConfig], logDir: dir))
        let client = MarathonClient(baseURL: "http://127.0.0.1:\(framework)")
        try await Eventually.that("the framework knows the agents", within: 30) {
            try await client.raw("GET", "/v2/info?embed=pacer").text.contains("largestAgent")
        }
        for port in [agent, admin] {
            try await Eventually.that("port \(port) answers", within: 20) {
                try await HTTPTransport().send(.GET, "http://127.0.0.1:\(port)/openapi.json").status == 200
            }
        }
        // Left out, each for a reason: the event stream and SUBSCRIBE never end; abdication would
        // stop the framework under test; the agent's LAUNCH would run generated commands.
        let runs: [(part: String, port: Int, excluded: [String])] = [
            ("framework", framework, ["events", "abdicate"]),
            ("master", master, ["schedulerCall"]),
            ("agent", agent, ["agentAPI"]),
            ("lb", admin, [])
        ]
        for run in runs {
            var arguments = [
                "run", "http://127.0.0.1:\(run.port)/openapi.json", "--checks", "all",
                // 404 (not 405) for a method a path lacks, and semantic refusals (a
                // dependency that does not exist, cmd and args both set) of
                // schema-valid input are Pacer's documented answers.
                "--exclude-checks", "unsupported_method,positive_data_acceptance",
                "--max-examples", "10", "--seed", "1", "--request-timeout", "10", "--no-color"
            ]
            for op in run.excluded { arguments += ["--exclude-operation-id", op] }
            let fixed = arguments
            let result = await withCheckedContinuation { continuation in
                DispatchQueue.global().async { continuation.resume(returning: Command.run(schemathesis, fixed)) }
            }
            let summary = result.out.split(separator: "\n").last {
                $0.contains("passed") || $0.contains("failure") || $0.contains("issues")
            }
            XCTAssertEqual(result.status, 0, "\(run.part):\n\(result.out.suffix(6000))\n\(result.err.suffix(2000))")
            print("schemathesis \(run.part): \(summary.map(String.init) ?? "?")")
        }
    }
}
