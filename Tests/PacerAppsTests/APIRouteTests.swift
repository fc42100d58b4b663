import Foundation
import PacerModel
import XCTest

/// The `/v2` API's behaviour without a cluster: what Marathon clients send and read back.
final class APIRouteTests: RouterTestCase {
    private func json(_ r: Response) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: r.body) as? [String: Any], r.text)
    }

    func testAnAppIsCreatedReadVersionedAndDeleted() async throws {
        let created = try await post(sleeper("/web", instances: 2))
        XCTAssertEqual(created.status, 201, created.text)
        let spec = try json(created)
        XCTAssertEqual(spec["id"] as? String, "/web")
        XCTAssertNil(spec["pacer"], "Marathon's shape unless embed=pacer")
        let version = try XCTUnwrap(spec["version"] as? String)

        let read = try json(try await request(.get, "/v2/apps/web"))
        let app = try XCTUnwrap(read["app"] as? [String: Any])
        XCTAssertEqual(app["instances"] as? Int, 2)
        XCTAssertEqual(app["tasksRunning"] as? Int, 0, "no agent: nothing runs")

        let versions = try json(try await request(.get, "/v2/apps/web/versions"))
        XCTAssertEqual(versions["versions"] as? [String], [version])
        let old = try json(try await request(.get, "/v2/apps/web/versions/\(version)"))
        XCTAssertEqual(old["instances"] as? Int, 2)

        // Still deploying (no agent): a change is refused unless forced, naming the deployment, as Marathon does.
        let locked = try await request(.put, "/v2/apps/web", body: sleeper("/web", instances: 3))
        XCTAssertEqual(locked.status, 409, locked.text)
        XCTAssertNotNil(try json(locked)["deploymentId"] as? String)
        let changed = try await request(.put, "/v2/apps/web?force=true", body: sleeper("/web", instances: 3))
        XCTAssertEqual(changed.status, 200, changed.text)
        let change = try json(changed)
        XCTAssertNotNil(change["deploymentId"] as? String)
        let newVersion = try XCTUnwrap(change["version"] as? String)
        let both = try json(try await request(.get, "/v2/apps/web/versions"))
        XCTAssertEqual(Set(both["versions"] as? [String] ?? []), [version, newVersion])

        let stillLocked = try await request(.delete, "/v2/apps/web")
        XCTAssertEqual(stillLocked.status, 409, "deleting is a change like any other")
        let deleted = try await request(.delete, "/v2/apps/web?force=true")
        XCTAssertEqual(deleted.status, 200, deleted.text)
        let gone = try await request(.get, "/v2/apps/web")
        XCTAssertEqual(gone.status, 404)
        let none = try await request(.get, "/v2/apps")
        XCTAssertEqual(none.text, #"{"apps":[]}"#)
    }

    func testWaitingInstancesAreQueuedAndTheDeploymentIsListed() async throws {
        let created = try await post(sleeper("/queued", instances: 3))
        XCTAssertEqual(created.status, 201)
        let listed = try await request(.get, "/v2/deployments")
        let deployments = try XCTUnwrap(JSONSerialization.jsonObject(with: listed.body) as? [[String: Any]], listed.text)
        XCTAssertEqual(deployments.count, 1)
        XCTAssertEqual(deployments.first?["affectedApps"] as? [String], ["/queued"])
        let queued = try json(try await request(.get, "/v2/queue"))
        let queue = try XCTUnwrap(queued["queue"] as? [[String: Any]])
        XCTAssertEqual(queue.count, 1)
        XCTAssertEqual(queue.first?["count"] as? Int, 3)
        XCTAssertEqual((queue.first?["app"] as? [String: Any])?["id"] as? String, "/queued")

        let id = try XCTUnwrap(deployments.first?["id"] as? String)
        let cancelled = try await request(.delete, "/v2/deployments/\(id)?force=true")
        XCTAssertEqual(cancelled.status, 202, cancelled.text)
        let unknown = try await request(.delete, "/v2/deployments/nope")
        XCTAssertEqual(unknown.status, 404)
    }

    func testInfoAndLeaderSpeakMarathonAndCarryPacersExtrasOnlyWhenAsked() async throws {
        let info = try json(try await request(.get, "/v2/info"))
        XCTAssertEqual(info["name"] as? String, "pacer")
        XCTAssertNil(info["pacer"])
        let extended = try json(try await request(.get, "/v2/info?embed=pacer"))
        let pacer = try XCTUnwrap(extended["pacer"] as? [String: Any])
        XCTAssertEqual((pacer["largestAgent"] as? [String: Any])?["cpus"] as? Double, 4)
        let leader = try json(try await request(.get, "/v2/leader"))
        XCTAssertEqual(leader["leader"] as? String, "127.0.0.1:8080")
        let abdicate = try await request(.delete, "/v2/leader")
        XCTAssertEqual(abdicate.status, 404, "no election: there is nobody to hand over to")
        let ping = try await request(.get, "/ping")
        XCTAssertEqual(ping.text, "pong")
    }

    func testBooleanFlagsAreStrict() async throws {
        let created = try await post(sleeper("/flags", instances: 0))
        XCTAssertEqual(created.status, 201)
        for bad in ["yes", "", "2"] {
            let r = try await request(.put, "/v2/apps/flags?force=\(bad)", body: sleeper("/flags", instances: 1))
            XCTAssertEqual(r.status, 400, "force=\(bad): \(r.text)")
        }
        let ok = try await request(.put, "/v2/apps/flags?force=TRUE", body: sleeper("/flags", instances: 1))
        XCTAssertEqual(ok.status, 200, ok.text)
    }
}
