import Foundation
import PacerModel
import XCTest

/// Marathon's published example payloads decode, and what Pacer writes back uses Marathon's names.
final class MarathonFixtureTests: XCTestCase {
    func fixture(_ name: String) throws -> Data {
        let url = try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"))
        return try Data(contentsOf: url)
    }

    func testMarathonExampleAppDecodesWithItsFields() throws {
        let app = try JSONDecoder().decode(AppDefinition.self, from: try fixture("app"))
        XCTAssertEqual(app.id.description, "/foo")
        XCTAssertEqual(app.instances, 2)
        XCTAssertEqual(app.cpus, 0.1)
        XCTAssertEqual(app.mem, 16)
        XCTAssertEqual(app.constraints, [Constraint(field: "hostname", op: .like, value: "srv2.*")])
        XCTAssertEqual(app.healthChecks.first?.maxConsecutiveFailures, 3)
        XCTAssertEqual(app.healthChecks.first?.gracePeriodSeconds, 300)
        XCTAssertEqual(app.readinessChecks.first?.portName, "http")
        XCTAssertEqual(app.portDefinitions.first?.name, "http")
        XCTAssertEqual(app.upgradeStrategy.minimumHealthCapacity, 1)
        XCTAssertEqual(app.maxLaunchDelaySeconds, 3600)
        XCTAssertEqual(app.env["XPS1"], "Test")
        XCTAssertEqual(app.envSecrets, ["PASSWORD"])
        XCTAssertEqual(app.dependencies.map(\.description), ["/prod/group"])
        // The example sets both cmd and args and uses a secret: Pacer says so, by field.
        let paths = Set(app.validate().map(\.path))
        XCTAssertTrue(paths.contains("/cmd"))
        XCTAssertTrue(paths.contains("/env/PASSWORD"))
    }

    func testCreateExamplesAreValidAndRoundTrip() throws {
        let apps = try JSONDecoder().decode([AppDefinition].self, from: try fixture("apps_create"))
        XCTAssertEqual(apps.count, 2)
        for app in apps {
            XCTAssertEqual(app.validate(), [])
            let again = try JSONDecoder().decode(AppDefinition.self, from: try WireJSON.marathonEncoder().encode(app))
            XCTAssertEqual(again, app)
        }
    }

    func testEncodedAppUsesMarathonFieldNames() throws {
        var status = AppStatus(app: try JSONDecoder().decode([AppDefinition].self, from: try fixture("apps_create"))[0])
        status.tasksRunning = 2
        status.deployments = ["d1"]
        let object = try XCTUnwrap(
            JSONSerialization.jsonObject(with: try WireJSON.marathonEncoder().encode(status)) as? [String: Any])
        for key in [
            "id", "cmd", "instances", "cpus", "mem", "disk", "ports", "portDefinitions", "requirePorts", "constraints",
            "healthChecks", "upgradeStrategy", "backoffSeconds", "backoffFactor", "maxLaunchDelaySeconds",
            "tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy", "deployments"
        ] {
            XCTAssertNotNil(object[key], "missing \(key)")
        }
        XCTAssertEqual((object["deployments"] as? [[String: String]])?.first?["id"], "d1")
    }

    func testMarathonTaskShapeMatchesTheExample() throws {
        struct Tasks: Decodable { var tasks: [MarathonTask] }
        let example = try JSONSerialization.jsonObject(with: try fixture("tasks")) as! [String: [[String: Any]]]
        let record = TaskRecord(
            id: "web.1", appId: try PathId(validating: "/web"), agentId: "a1", host: "h", agentAttributes: [:],
            ports: [31000], servicePorts: [10000], version: "v", stagedAt: Date(timeIntervalSince1970: 0))
        let ours =
            try JSONSerialization.jsonObject(with: try WireJSON.marathonEncoder().encode(MarathonTask(record))) as! [String: Any]
        let theirs = Set(example["tasks"]![0].keys).subtracting(["region", "zone", "role", "startedAt"])
        XCTAssertTrue(theirs.isSubset(of: Set(ours.keys)), "missing: \(theirs.subtracting(ours.keys))")
        XCTAssertEqual(ours["stagedAt"] as? String, "1970-01-01T00:00:00.000Z")
    }
}
