import Foundation
import PacerClient
import PacerTestKit
import XCTest

/// F19/F20: a new `pacer lb` started beside a running one takes over its listening sockets; the
/// old one finishes its requests and exits. Clients sending continuously see no failed request.
final class HitlessRestartTests: HTTPTestCase {
    func testRestartsUnderLoadFailNoRequest() async throws {
        let byPort = LoadLoop(port: port, threads: 4)
        let byHost = LoadLoop(port: lb.httpPort, threads: 2)
        try await Task.sleep(for: .milliseconds(500))
        for round in 0..<3 {
            let before = byPort.snapshot.ok
            let old = try lb.restart()
            try await Eventually.that("round \(round): the old LB exited", within: 20) { !old.isRunning }
            XCTAssertTrue(old.log.contains("load balancer running"))
            XCTAssertTrue(lb.process.log.contains("took over listening sockets"), lb.process.log)
            try await Eventually.that("round \(round): requests flow through the new LB", within: 5) {
                byPort.snapshot.ok > before + 50
            }
        }
        let a = byPort.stop()
        let b = byHost.stop()
        XCTAssertEqual(a.failed + b.failed, 0, "failures: \((a.failures + b.failures).prefix(5))")
        XCTAssertGreaterThan(a.ok, 200)
        XCTAssertGreaterThan(b.ok, 100)
        print("hitless restarts: \(a.ok + b.ok) requests, \(a.failed + b.failed) failed, \(a.resent + b.resent) resent")
        let url = lb.adminURL
        try await Eventually.that("the new LB's admin endpoint answers", within: 5) {
            try await HTTPTransport().send(.GET, url + "/healthz").status == 200
        }
        // Each predecessor left the socket file to its successor; the last LB removes its own.
        let socket = "/tmp/pacer-lb-\(lb.adminPort).sock"
        XCTAssertTrue(FileManager.default.fileExists(atPath: socket), "the running LB's hand-over socket")
        lb.process.stop()
        XCTAssertFalse(FileManager.default.fileExists(atPath: socket), "a stopped LB leaves no socket file behind")
    }
}
