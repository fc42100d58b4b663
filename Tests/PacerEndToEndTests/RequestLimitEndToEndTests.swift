import Foundation
import PacerTestKit
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A9: slow clients holding API requests open get the framework to refuse more at once (503),
/// and it answers again as soon as they are gone.
final class RequestLimitEndToEndTests: ClusterTestCase {
    /// Trickles plain HTTP bytes at the API's socket: the limit under test sits behind TLS alike.
    override var secure: Bool { false }
    override var frameworkArguments: [String] { ["--http-max-concurrent-requests", "4"] }

    /// A POST whose body never finishes: the framework waits for it inside the handler.
    private func trickle(_ port: Int) throws -> Int32 {
        let fd = try XCTUnwrap(Loopback.connect(port))
        let head = "POST /v2/apps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\":"
        _ = head.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        return fd
    }

    func testSlowClientsGetTheRestRefusedFastAndNothingQueued() async throws {
        let port = cluster.frameworkPort
        var slow: [Int32] = []
        defer { for fd in slow { close(fd) } }
        // Twelve slow clients against a limit of four: the first four hold their slots.
        for _ in 0..<12 { slow.append(try trickle(port)) }
        try await Eventually.that("the API refuses while four requests are held") {
            try await self.client.raw("GET", "/v2/info").status == 503
        }
        let refused = try await client.raw("GET", "/v2/apps")
        XCTAssertEqual(refused.status, 503, refused.text)
        XCTAssertTrue(refused.text.contains("--http-max-concurrent-requests"), refused.text)
        for fd in slow { close(fd) }
        slow = []
        try await Eventually.that("the API answers once the slow clients are gone") {
            try await self.client.raw("GET", "/v2/info").status == 200
        }
        let apps = try await client.apps()
        XCTAssertEqual(apps.count, 0, "no half-sent app was created")
    }
}
