import Foundation
import PacerTestKit
import XCTest

/// Marathon compatibility judged by other people's artefacts (issue 13): Marathon's JSON Schema and
/// example payloads (Tests/PacerModelTests/Fixtures, Apache-2.0, see NOTICE there), the `marathon`
/// PyPI client 0.13.0 and the DC/OS CLI's calls, all driven by `Tests/compat/marathon_compat.py`
/// against this real cluster. `make test` installs the client into `.build/compat-venv`.
final class MarathonCompatibilityTests: ClusterTestCase {
    /// Marathon's fault domain comes from the agent's `region` and `zone` attributes.
    override var agentArguments: [String] { ["--attributes", "rack:r1;region:primary;zone:a"] }

    var repo: String {
        #filePath.replacingOccurrences(of: "/Tests/PacerEndToEndTests/MarathonCompatibilityTests.swift", with: "")
    }

    func testMarathonSchemaExamplesAndClientsAgreeWithPacer() async throws {
        let python = repo + "/.build/compat-venv/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            return XCTFail(
                "\(python) is missing: `make test` creates it (python3 -m venv, pip install -r Tests/compat/requirements.txt)")
        }
        let arguments =
            [
                repo + "/Tests/compat/marathon_compat.py", "--url", cluster.frameworkURL,
                "--fixtures", repo + "/Tests/PacerModelTests/Fixtures"
            ] + (cluster.usesTestPKI ? ["--ca", TestPKI.files.caPath] : [])
        // The script takes a minute or two; it runs off the cooperative pool.
        let result = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: Command.run(python, arguments)) }
        }
        let lines = result.out.split(separator: "\n")
        let passed = lines.filter { $0.hasPrefix("ok ") }.count
        let failed = lines.filter { $0.hasPrefix("FAIL ") }
        XCTAssertEqual(result.status, 0, "\(failed.joined(separator: "\n"))\n\(result.out)\n\(result.err)")
        XCTAssertGreaterThan(passed, 100, "every part ran:\n\(result.out)")
        print("Marathon compatibility: \(passed) checks passed, \(failed.count) failed")
    }
}
