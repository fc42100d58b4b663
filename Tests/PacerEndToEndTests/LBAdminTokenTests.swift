import Foundation
import PacerClient
import PacerTestKit
import XCTest

/// With `admin_token`, the LB's admin port answers `/stats`, `/metrics` and marathon-lb's
/// endpoints only to `Authorization: Bearer <token>`; `/healthz` stays open for health probes.
final class LBAdminTokenTests: ClusterTestCase {
    func testTheAdminPortWantsItsToken() async throws {
        let lb = try TestLB(cluster: cluster, extra: "admin_token: t0k3n")
        defer { lb.process.stop() }
        let transport = HTTPTransport(timeout: .seconds(2))
        let admin = "http://127.0.0.1:\(lb.adminPort)"
        try await Eventually.that("the LB's admin port answers") {
            try await transport.send(.GET, admin + "/healthz").status == 200
        }
        for path in ["/stats", "/metrics", "/_haproxy_getconfig"] {
            let anonymous = try await transport.send(.GET, admin + path)
            XCTAssertEqual(anonymous.status, 401, "\(path): \(anonymous.text)")
            let wrong = try await transport.send(.GET, admin + path, headers: [("Authorization", "Bearer t0k3m")])
            XCTAssertEqual(wrong.status, 401, path)
            let right = try await transport.send(.GET, admin + path, headers: [("Authorization", "Bearer t0k3n")])
            XCTAssertEqual(right.status, 200, "\(path): \(right.text)")
        }
    }
}
