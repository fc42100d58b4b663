import Foundation
import PacerModel
import PacerServerKit
import XCTest

@testable import PacerApps

/// Principals and what each may do, through the real router: 401 without credentials, 403 where
/// a role does not reach, lists filtered to what a principal may read, failed logins throttled.
final class AccessTests: RouterTestCase {
    static let token = "team-a-secret-token"
    static let principals: Principals = {
        let digest = Principals.newTokenDigest(token)
        let hash = { (password: String) in Principals.hashPassword(password, cost: 4) }
        let file = """
            principals:
              - {name: ops, role: admin, password_bcrypt: "\(hash("ops-pw"))"}
              - {name: team-a, role: deployer, paths: [/team-a], token_sha256: "\(digest)", password_bcrypt: "\(hash("a-pw"))"}
              - {name: grafana, role: viewer, password_bcrypt: "\(hash("view-pw"))"}
              - {name: lb-1, role: loadbalancer, password_bcrypt: "\(hash("lb-pw"))"}
            """
        return try! Principals.parse(file, source: "test")
    }()
    override var authenticator: Authenticator? { Authenticator(Self.principals, failureLimit: 5) }

    func basic(_ user: String, _ password: String) -> String { "Basic " + Data("\(user):\(password)".utf8).base64EncodedString() }
    var ops: String { basic("ops", "ops-pw") }
    var teamA: String { "Bearer \(Self.token)" }
    var viewer: String { basic("grafana", "view-pw") }
    var lb: String { basic("lb-1", "lb-pw") }

    func expect(
        _ status: Int, _ call: () async throws -> Response, _ message: String = "", file: StaticString = #filePath,
        line: UInt = #line
    ) async throws {
        let r = try await call()
        XCTAssertEqual(r.status, status, "\(message) \(r.text)", file: file, line: line)
    }

    func create(_ id: String, as who: String) async throws -> Response {
        try await request(.post, "/v2/apps", body: sleeper(id, instances: 0), authorization: who)
    }

    func testWithoutCredentialsOnlyPingAnswers() async throws {
        try await expect(200, { try await self.request(.get, "/ping") })
        let r = try await request(.get, "/v2/apps")
        XCTAssertEqual(r.status, 401, r.text)
        XCTAssertEqual(r.headers[.wwwAuthenticate], #"Basic realm="Pacer", Bearer realm="Pacer""#)
        try await expect(401, { try await self.request(.get, "/v2/apps", authorization: basic("ops", "wrong")) })
        try await expect(401, { try await self.request(.get, "/v2/apps", authorization: "Bearer wrong") })
        try await expect(200, { try await self.request(.get, "/v2/apps", authorization: ops) })
    }

    func testADeployerChangesAndSeesOnlyItsOwnPaths() async throws {
        try await expect(201, { try await self.create("/team-b/api", as: ops) })
        try await expect(201, { try await self.create("/team-a/web", as: teamA) })
        let refused = try await create("/team-b/other", as: teamA)
        XCTAssertEqual(refused.status, 403, refused.text)
        XCTAssertTrue(refused.text.contains("may not change /team-b/other"), refused.text)
        try await expect(403, { try await self.create("/team-ab/web", as: teamA) }, "/team-ab is not under /team-a")

        let list = try await request(.get, "/v2/apps", authorization: teamA).text
        XCTAssertTrue(list.contains("/team-a/web"), list)
        XCTAssertFalse(list.contains("/team-b"), "a deployer lists only its apps: \(list)")
        try await expect(403, { try await self.request(.get, "/v2/apps/team-b/api", authorization: teamA) })
        try await expect(200, { try await self.request(.get, "/v2/apps/team-a/web", authorization: teamA) })
        try await expect(
            403, { try await self.request(.put, "/v2/apps/team-b/api", body: #"{"instances":1}"#, authorization: teamA) })
        try await expect(403, { try await self.request(.delete, "/v2/apps/team-b/api", authorization: teamA) })
        try await expect(
            200, { try await self.request(.put, "/v2/apps/team-a/web", body: #"{"instances":1}"#, authorization: teamA) })
        try await expect(
            403, { try await self.request(.get, "/v2/groups", authorization: teamA) }, "the root group shows every app")
        try await expect(200, { try await self.request(.get, "/v2/groups/team-a", authorization: teamA) })
        try await expect(403, { try await self.request(.get, "/metrics", authorization: teamA) })
        try await expect(403, { try await self.request(.delete, "/v2/leader", authorization: teamA) })
        try await expect(403, { try await self.request(.get, "/v2/apps/team-a%2F..%2Fteam-b/api", authorization: teamA) })
        let deployments = try await request(.get, "/v2/deployments", authorization: teamA).text
        XCTAssertFalse(deployments.contains("/team-b"), deployments)
    }

    func testAViewerReadsEverythingAndChangesNothing() async throws {
        try await expect(201, { try await self.create("/team-b/api", as: ops) })
        let list = try await request(.get, "/v2/apps", authorization: viewer)
        XCTAssertEqual(list.status, 200)
        XCTAssertTrue(list.text.contains("/team-b/api"))
        try await expect(200, { try await self.request(.get, "/metrics", authorization: viewer) })
        try await expect(403, { try await self.create("/team-b/x", as: viewer) })
        try await expect(403, { try await self.request(.delete, "/v2/apps/team-b/api", authorization: viewer) })
        let drained = #"{"lb":"x","taskIds":[]}"#
        try await expect(403, { try await self.request(.post, "/v2/tasks/drained", body: drained, authorization: viewer) })
    }

    func testALoadBalancerReadsAndReportsDrainsOnly() async throws {
        let drained = #"{"lb":"lb-1","taskIds":["t1"]}"#
        try await expect(204, { try await self.request(.post, "/v2/tasks/drained", body: drained, authorization: lb) })
        try await expect(200, { try await self.request(.get, "/v2/apps", authorization: lb) })
        try await expect(403, { try await self.create("/x", as: lb) })
        try await expect(403, { try await self.request(.post, "/v2/tasks/drained", body: drained, authorization: teamA) })
    }

    func testFailedLoginsFromOneAddressAreThrottled() async throws {
        try await expect(200, { try await self.request(.get, "/v2/info", authorization: self.viewer) })
        for _ in 0..<8 {
            try await expect(401, { try await self.request(.get, "/v2/info") })
        }
        for _ in 0..<5 {
            try await expect(401, { try await self.request(.get, "/v2/info", authorization: basic("ops", "guess")) })
        }
        let throttled = try await request(.get, "/v2/info", authorization: ops)
        XCTAssertEqual(throttled.status, 429, "even the right password waits out the window (requests without any did not count)")
        XCTAssertNotNil(throttled.headers[.retryAfter])
        try await expect(200, { try await self.request(.get, "/v2/info", authorization: self.viewer) })
    }
}

/// A principals file with a mistake stops the start and names the entry and the fix.
final class PrincipalsFileTests: XCTestCase {
    func refusal(_ entry: String) -> String {
        do {
            _ = try Principals.parse("principals:\n  - \(entry)\n", source: "p.yaml")
            return "accepted"
        } catch { return error.description }
    }

    func testMistakesAreNamed() {
        XCTAssertTrue(refusal(#"{name: a, role: boss, password_bcrypt: "$2b$04$x"}"#).contains("role 'boss' is not one of"))
        XCTAssertTrue(refusal(#"{name: a, role: deployer, password_bcrypt: "$2b$04$x"}"#).contains("a deployer needs paths"))
        XCTAssertTrue(refusal(#"{name: a, role: viewer, password_bcrypt: "hunter2"}"#).contains("must be a bcrypt hash"))
        XCTAssertTrue(refusal(#"{name: a, role: viewer, token_sha256: "abc"}"#).contains("64 hex digits"))
        XCTAssertTrue(refusal(#"{name: a, role: viewer}"#).contains("give it password_bcrypt or token_sha256"))
        XCTAssertTrue(
            refusal(#"{name: a, role: deployer, paths: ["../x"], token_sha256: "\#(String(repeating: "0", count: 64))"}"#)
                .contains("is not an app or group path"))
        XCTAssertTrue(refusal(#"{name: "a:b", role: viewer, password_bcrypt: "$2b$04$x"}"#).contains("without ':'"))
        XCTAssertEqual(refusal(#"{name: a, role: viewer, password_bcrypt: "$2b$04$x"}"#), "accepted")
    }
}

/// A13: a form a foreign page makes a browser send is refused; cross-origin reads are closed
/// unless an origin is named, and then answered with CORS headers (preflight included).
final class BrowserSafetyTests: RouterTestCase {
    func testFormsAreRefusedAndCORSIsClosedByDefault() async throws {
        let form = try await request(
            .post, "/v2/apps", body: "id=/x&cmd=rm%20-rf", contentType: "application/x-www-form-urlencoded")
        XCTAssertEqual(form.status, 415, form.text)
        let text = try await request(.post, "/v2/apps/x/restart", body: "{}", contentType: "text/plain")
        XCTAssertEqual(text.status, 415)
        let json = try await post(sleeper("/ok", instances: 0))
        XCTAssertEqual(json.status, 201, json.text)
        let read = try await request(.get, "/v2/apps", origin: "https://evil.example")
        XCTAssertNil(read.headers[.accessControlAllowOrigin], "no CORS without --cors-origin")
    }
}

final class CORSOriginTests: RouterTestCase {
    override var corsOrigins: [String] { ["https://console.example"] }

    func testANamedOriginGetsCORSAnswers() async throws {
        let preflight = try await request(.options, "/v2/apps", origin: "https://console.example")
        XCTAssertEqual(preflight.status, 204)
        XCTAssertEqual(preflight.headers[.accessControlAllowOrigin], "https://console.example")
        let read = try await request(.get, "/v2/apps", origin: "https://console.example")
        XCTAssertEqual(read.headers[.accessControlAllowOrigin], "https://console.example")
        let other = try await request(.get, "/v2/apps", origin: "https://evil.example")
        XCTAssertNil(other.headers[.accessControlAllowOrigin])
    }
}

/// Env values named like secrets go to the task but not back to readers who are not admins.
final class SecretEnvTests: RouterTestCase {
    override var authenticator: Authenticator? { Authenticator(AccessTests.principals) }

    func testSecretsAreShownToAdminsOnly() async throws {
        let ops = "Basic " + Data("ops:ops-pw".utf8).base64EncodedString()
        let viewer = "Basic " + Data("grafana:view-pw".utf8).base64EncodedString()
        let spec = sleeper(
            "/team-a/db", instances: 0, extra: #","env":{"DB_PASSWORD":"hunter2","API_TOKEN":"t0k","MODE":"prod"}"#)
        let created = try await request(.post, "/v2/apps", body: spec, authorization: ops)
        XCTAssertEqual(created.status, 201, created.text)
        let asAdmin = try await request(.get, "/v2/apps/team-a/db", authorization: ops).text
        XCTAssertTrue(asAdmin.contains("hunter2"), asAdmin)
        for uri in ["/v2/apps/team-a/db", "/v2/apps", "/v2/groups/team-a"] {
            let asViewer = try await request(.get, uri, authorization: viewer).text
            XCTAssertFalse(asViewer.contains("hunter2") || asViewer.contains("t0k"), "\(uri): \(asViewer)")
            XCTAssertTrue(asViewer.contains("prod"), "other env stays: \(asViewer)")
        }
    }
}
