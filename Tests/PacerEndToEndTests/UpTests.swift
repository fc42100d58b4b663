import Foundation
import PacerClient
import PacerTestKit
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `pacer up` is the product on its own: started from any directory it runs the whole cluster,
/// load balancer included, with built-in defaults.
final class UpTests: XCTestCase {
    func testUpFromAnEmptyDirectoryRunsTheLoadBalancerToo() async throws {
        let dir = NSTemporaryDirectory() + "pacer-up-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir + "/cwd", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = FreePorts.block(6)
        let up = try PacerProcess(
            name: "up",
            arguments: [
                "up", "--state-dir", dir + "/state", "--port", "\(p)", "--master-port", "\(p + 1)", "--agent-port", "\(p + 2)",
                "--task-ports", "\(p + 3)", "--lb-admin-port", "\(p + 4)", "--lb-http-port", "\(p + 5)", "--isolation", "none",
                "--agent-cpus", "2", "--agent-mem", "1024"
            ], logDir: dir, directory: dir + "/cwd")
        defer { up.stop(grace: 10) }
        let transport = HTTPTransport(timeout: .seconds(2))
        do {
            try await Eventually.that("the load balancer follows the framework", within: 20) {
                let r = try await transport.send(.GET, "http://127.0.0.1:\(p + 4)/metrics")
                return r.status == 200 && r.text.contains("pacer_lb_framework_connected 1")
            }
            let info = try await transport.send(.GET, "http://127.0.0.1:\(p)/v2/info")
            XCTAssertEqual(info.status, 200)
        } catch {
            print(up.log)
            throw error
        }
    }
}
