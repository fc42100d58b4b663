import Foundation
import PacerClient
import PacerTestKit
import XCTest

/// The console in a real browser: headless Chromium (Debian's `chromium`, `chromium-driver`)
/// driven by Selenium (`python3-selenium`), against a `pacer up` cluster — deploy, health bar,
/// scale, a task's log followed, a failing deployment rolled back, why a deployment waits, every
/// view rendered, no JavaScript error. Screenshots go to `PACER_SCREENSHOTS` (docs/console in
/// the repository when refreshed by hand), else under the test's directory.
final class ConsoleBrowserTests: DiagnosedTestCase {
    var dir = ""
    var up: PacerProcess?

    override func tearDown() async throws {
        if failed, let up { print("===== up\n\(up.log.suffix(5000))") }
        up?.stop(grace: 10)
        try? FileManager.default.removeItem(atPath: dir)
        try await super.tearDown()
    }

    func testDeployWatchScaleFollowALogRollBackAndReadWhyItWaits() async throws {
        for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] where !FileManager.default.isExecutableFile(atPath: tool) {
            return XCTFail("\(tool) is missing: `make test` installs chromium and chromium-driver")
        }
        dir = NSTemporaryDirectory() + "pacer-console-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let (up, port) = try startUp(in: dir, ["--agent-cpus", "4"])
        self.up = up
        let api = "http://127.0.0.1:\(port)"
        try await Eventually.that("the framework knows the agent", within: 30) {
            (try? await HTTPTransport(timeout: .seconds(2)).send(.GET, api + "/v2/info?embed=pacer"))?.text.contains(
                "largestAgent") == true
        }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .path
        let screenshots = ProcessInfo.processInfo.environment["PACER_SCREENSHOTS"] ?? dir + "/screenshots"
        let arguments = [repo + "/Tests/console/console_browser.py", "--url", api, "--screenshots", screenshots]
        let result = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: Command.run("/usr/bin/python3", arguments)) }
        }
        print(result.out)
        XCTAssertEqual(result.status, 0, String(result.out.suffix(3000)) + String(result.err.suffix(3000)))
        XCTAssertTrue(result.out.contains(" 0 failed"), result.out.suffix(2000).description)
    }
}
