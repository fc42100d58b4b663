import Foundation
import PacerClient
import PacerTestKit
import XCTest

/// F14: the framework's wall clock jumps two hours ahead (libfaketime, monotonic clocks left
/// alone). Its timeouts run on the monotonic clock, so a deployment with a 10-minute progress
/// deadline is not failed by the jump.
final class ClockJumpTests: ClusterTestCase {
    /// Debian's libfaketime (`make test` installs the faketime package), wherever the architecture puts it.
    static var libfaketime: String {
        get throws {
            let lib = try FileManager.default.contentsOfDirectory(atPath: "/usr/lib").map {
                "/usr/lib/\($0)/faketime/libfaketimeMT.so.1"
            }
            .first { FileManager.default.fileExists(atPath: $0) }
            return try XCTUnwrap(lib, "libfaketime is missing: apt-get install faketime (make test does)")
        }
    }

    func testAWallClockJumpFailsNoDeployment() async throws {
        let offset = cluster.dir + "/faketime"
        try "+0".write(toFile: offset, atomically: true, encoding: .utf8)
        cluster.framework.stop()
        // Through a shell: started straight from this process with LD_PRELOAD set, the framework
        // sees no arguments (libfaketime and the Swift runtime's argument capture disagree).
        let framework = try PacerProcess(
            name: "framework-faketime",
            arguments: [
                "-c", #"exec "$@""#, "sh", PacerProcess.binary, "framework", "--port", "\(cluster.frameworkPort)",
                "--master", cluster.masterURL, "--state-dir", cluster.dir
            ] + cluster.frameworkArgs, logDir: cluster.dir,
            environment: [
                "LD_PRELOAD": try Self.libfaketime, "FAKETIME_TIMESTAMP_FILE": offset, "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                "FAKETIME_CACHE_DURATION": "1"
            ], executable: "/bin/sh")
        defer { framework.stop() }
        try await cluster.ready()
        // Waits forever for an agent that does not exist, with a 10-minute progress deadline.
        let created = try await post(
            #"{"id":"/waits","cmd":"sleep 3600","cpus":0.01,"mem":8,"progressDeadlineSeconds":600,"constraints":[["hostname","LIKE","nowhere"]]}"#
        )
        XCTAssertEqual(created.status, 201, created.text)
        try await Eventually.that("the deployment is in progress") { try await self.deployments() == 1 }

        try "+2h".write(toFile: offset, atomically: true, encoding: .utf8)
        let transport = HTTPTransport()
        try await Eventually.that("the framework's wall clock is two hours ahead") {
            let r = try await transport.send(.GET, self.cluster.frameworkURL + "/ping")
            guard let header = r.headers.first(where: { $0.0.lowercased() == "date" })?.1 else { return false }
            let format = DateFormatter()
            format.locale = Locale(identifier: "en_US_POSIX")
            format.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
            return format.date(from: header).map { $0.timeIntervalSinceNow > 3600 } ?? false
        }
        try await Task.sleep(for: .seconds(3))  // several ticks, each of which checks the deadline
        let left = try await deployments()
        XCTAssertEqual(left, 1, "the jump must not fail the deployment")
    }

    private func deployments() async throws -> Int {
        let r = try await client.raw("GET", "/v2/deployments")
        return (try JSONSerialization.jsonObject(with: r.body) as? [Any])?.count ?? -1
    }
}
