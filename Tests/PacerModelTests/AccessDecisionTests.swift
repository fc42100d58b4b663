import PacerModel
import XCTest

/// Who may do what, decided from the method and path alone (the handlers check bodies and filter lists).
final class AccessDecisionTests: XCTestCase {
    let admin = Principal(name: "ops", role: .admin)
    let deployer = Principal(name: "a", role: .deployer, paths: [try! PathId(validating: "/team-a")])
    let viewer = Principal(name: "v", role: .viewer)
    let lb = Principal(name: "lb", role: .loadbalancer)

    func testRolesAndPaths() {
        XCTAssertEqual(Access.decide(admin, method: "DELETE", path: "/v2/leader"), .allow)
        XCTAssertEqual(Access.decide(deployer, method: "PUT", path: "/v2/apps/team-a/web"), .allow)
        XCTAssertEqual(Access.decide(deployer, method: "POST", path: "/v2/apps/team-a/web/restart"), .allow)
        XCTAssertEqual(Access.decide(deployer, method: "DELETE", path: "/v2/queue/team-a/web/delay"), .allow)
        XCTAssertEqual(Access.decide(deployer, method: "DELETE", path: "/v2/apps/team-a"), .allow, "the group's own path")
        XCTAssertNotEqual(Access.decide(deployer, method: "PUT", path: "/v2/apps/team-ab/web"), .allow)
        XCTAssertNotEqual(Access.decide(deployer, method: "GET", path: "/v2/apps/team-b/web/tasks"), .allow)
        XCTAssertEqual(Access.decide(deployer, method: "POST", path: "/v2/apps"), .checkInHandler, "the body names the app")
        XCTAssertEqual(Access.decide(deployer, method: "GET", path: "/v2/apps"), .checkInHandler, "the list is filtered")
        XCTAssertEqual(Access.decide(deployer, method: "GET", path: "/v2/tasks/web.1/files/read"), .checkInHandler)
        XCTAssertNotEqual(Access.decide(deployer, method: "GET", path: "/metrics"), .allow)
        XCTAssertEqual(
            Access.decide(deployer, method: "GET", path: "/ui/app"), .allow,
            "console pages: their API calls are decided one by one")
        XCTAssertNotEqual(Access.decide(viewer, method: "POST", path: "/ui/"), .allow, "the console takes no changes itself")
        XCTAssertNotEqual(Access.decide(deployer, method: "POST", path: "/v2/eventSubscriptions"), .allow)
        XCTAssertNotEqual(Access.decide(deployer, method: "GET", path: "/v2/apps/team-a%2F..%2Fteam-b"), .allow)
        XCTAssertNotEqual(Access.decide(deployer, method: "PUT", path: "/v2/apps/team-a/../team-b/web"), .allow, "A12")
        XCTAssertNotEqual(Access.decide(deployer, method: "PUT", path: "/v2/apps/team-a/./web"), .allow)
        XCTAssertNotEqual(Access.decide(deployer, method: "GET", path: "/v2//apps"), .allow)
        XCTAssertEqual(
            Access.decide(deployer, method: "GET", path: "/v2/apps/team-a/web/"), .allow, "a trailing slash is the same app")
        XCTAssertEqual(Access.decide(viewer, method: "GET", path: "/metrics"), .allow)
        XCTAssertNotEqual(Access.decide(viewer, method: "POST", path: "/v2/apps"), .allow)
        XCTAssertEqual(Access.decide(lb, method: "POST", path: "/v2/tasks/drained"), .allow)
        XCTAssertNotEqual(Access.decide(lb, method: "DELETE", path: "/v2/apps/x"), .allow)
    }

    func testReadAndChangeByRole() throws {
        let a = try PathId(validating: "/team-a/web")
        let b = try PathId(validating: "/team-b/web")
        XCTAssertTrue(deployer.mayChange(a))
        XCTAssertFalse(deployer.mayChange(b))
        XCTAssertFalse(deployer.mayRead(b))
        XCTAssertTrue(viewer.mayRead(b))
        XCTAssertFalse(viewer.mayChange(b))
        XCTAssertTrue(admin.mayChange(b))
    }
}
