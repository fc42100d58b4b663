import Foundation
import PacerAppsCore
import PacerModel
import XCTest

/// `/v2/groups` in the core: one deployment per group change, dependency order, replacement
/// semantics, all-or-nothing refusals.
final class GroupTests: XCTestCase {
    func id(_ s: String) -> PathId { try! PathId(validating: s) }

    func spec(_ json: String, at: PathId? = nil) throws -> GroupSpec { try GroupSpec.request(from: Data(json.utf8), at: at) }

    let prod =
        #"{"id":"/prod","apps":[{"id":"db","cmd":"sleep 1","cpus":0.1,"mem":8}],"groups":[{"id":"web","dependencies":["/prod/db"],"apps":[{"id":"front","cmd":"sleep 1","cpus":0.1,"mem":8,"instances":2}]}]}"#

    func testAGroupChangeIsOneDeploymentInDependencyOrder() throws {
        var c = AppsCore(apps: [], tasks: [], idPrefix: "p", now: t0)
        let (deploymentId, ds) = try c.putGroup(try spec(prod), now: t0, force: false)
        XCTAssertEqual(Set(c.apps.keys), [id("/prod/db"), id("/prod/web/front")])
        XCTAssertTrue(
            ds.contains(
                .persistGroup(GroupRecord(id: id("/prod/web"), dependencies: [id("/prod/db")], version: Timestamp.string(t0)))))
        let views = c.deploymentViews()
        XCTAssertEqual(views.count, 1, "one deployment for the group change")
        XCTAssertEqual(views[0].info.id, deploymentId)
        XCTAssertEqual(
            views[0].info.steps.map { $0.actions.map(\.app) }, [["/prod/db"], ["/prod/web/front"]], "db first: web depends on it")
        XCTAssertEqual(views[0].info.currentStep, 1)
        // Only db launches until it serves.
        let first = c.onOffers([offer("o1")], now: t0).launched
        XCTAssertEqual(first.map { $0.taskId.hasPrefix("prod_db.") }, [true])
        _ = c.report(first.map(\.taskId), .running, at: t0)
        XCTAssertEqual(c.deploymentViews().first?.info.currentStep, 2)
        let second = c.onOffers([offer("o2")], now: t0).launched
        XCTAssertEqual(second.count, 2)
        let reported = c.report(second.map(\.taskId), .running, at: t0)
        XCTAssertTrue(c.deploymentViews().isEmpty)
        let done = reported.events.compactMap { e -> String? in
            if case .deploymentSuccess(let d) = e { return d.id }
            return nil
        }
        XCTAssertTrue(done.contains(deploymentId), "the group's own id succeeds: \(done)")
    }

    func testGivenListsReplaceTheGroupsContents() throws {
        var c = AppsCore(apps: [], tasks: [], idPrefix: "p", now: t0)
        _ = try c.putGroup(try spec(prod), now: t0, force: false)
        // Only db listed at /prod, no subgroups: web and its app go.
        _ = try c.putGroup(
            try spec(#"{"apps":[{"id":"db","cmd":"sleep 1","cpus":0.1,"mem":8}],"groups":[]}"#, at: id("/prod")),
            now: t0, force: true)
        XCTAssertEqual(Set(c.apps.keys), [id("/prod/db")])
        XCTAssertNil(c.groups[id("/prod/web")])
        // Fields left out leave the rest alone.
        _ = try c.putGroup(try spec(#"{"dependencies":[]}"#, at: id("/prod")), now: t0, force: true)
        XCTAssertEqual(Set(c.apps.keys), [id("/prod/db")])
    }

    func testARefusedPartRefusesTheWholeChange() throws {
        var c = AppsCore(apps: [], tasks: [], idPrefix: "p", now: t0)
        _ = try c.putApp(app("/prod/db"), now: t0, force: false)  // deploying: locked
        let before = c.apps
        XCTAssertThrowsError(try c.putGroup(try spec(prod), now: t0, force: false)) { e in
            XCTAssertEqual((e as? APIError)?.status, 409)
        }
        XCTAssertEqual(c.apps, before, "nothing of the change was applied")
        XCTAssertNil(c.groups[id("/prod/web")])
    }

    func testScaleByRoundsUpAndRemoveTakesEverythingBelow() throws {
        var c = AppsCore(apps: [], tasks: [], idPrefix: "p", now: t0)
        _ = try c.putGroup(try spec(prod), now: t0, force: false)
        _ = try c.scaleGroup(id("/prod"), by: 1.5, now: t0, force: true)
        XCTAssertEqual(c.apps[id("/prod/db")]?.instances, 2)
        XCTAssertEqual(c.apps[id("/prod/web/front")]?.instances, 3)
        XCTAssertThrowsError(try c.scaleGroup(id("/nothing"), by: 2, now: t0, force: true))
        let (_, ds) = try c.removeGroup(id("/prod"), now: t0, force: true)
        XCTAssertTrue(c.apps.isEmpty)
        XCTAssertTrue(ds.contains(.deleteApp(id("/prod/db"))))
        XCTAssertTrue(ds.contains(.deleteGroup(id("/prod/web"))))
        XCTAssertEqual(c.groupIds, [.root])
    }

    func testGroupBodiesAreCheckedFieldByField() {
        func refused(_ json: String, _ field: String, at: PathId? = nil) {
            XCTAssertThrowsError(try spec(json, at: at), json) { e in
                XCTAssertEqual((e as? APIError)?.details.map(\.path), [field], json)
            }
        }
        refused(#"{"id":"/g","apps":[{"id":"a","cmd":"x","cpus":"1"}]}"#, "/apps/0/cpus")
        refused(#"{"id":"/g","apps":[{"id":"a","cmd":"x","colour":"red"}]}"#, "/apps/0/colour")
        refused(#"{"id":"/g","apps":[{"id":"/elsewhere/a","cmd":"x"}]}"#, "/apps/0/id")
        refused(#"{"id":"/g","groups":[{"id":"/other"}]}"#, "/groups/0/id")
        refused(#"{"id":"/g","pods":[{"id":"p"}]}"#, "/pods")
        refused(#"{"id":"/g","scaleBy":0}"#, "/scaleBy")
        refused(#"{"id":"/g","extra":1}"#, "/extra")
        refused(#"{"id":"/other"}"#, "/id", at: id("/g"))
    }
}
