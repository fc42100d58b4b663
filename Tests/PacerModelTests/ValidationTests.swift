import Foundation
import PacerModel
import XCTest

final class ValidationTests: XCTestCase {
    func decode(_ json: String) throws(APIError) -> AppDefinition {
        try JSONBody.decode(AppDefinition.self, from: Data(json.utf8))
    }

    func errors(_ json: String) throws -> [String: [String]] {
        let app = try decode(json)
        return Dictionary(grouping: app.validate(), by: \.path).mapValues { $0.map(\.message) }
    }

    func testPathIdGrammar() {
        for good in ["/a", "a", "/shop/web", "/a-b/c.d", "/0", "/a1.b2"] {
            XCTAssertNoThrow(try PathId(validating: good), good)
        }
        for bad in [
            "", "/", "..", "/a/../b", "/A", "/a//b", "/%2e%2e", "/a_b", "/-a", "/a-", "/a..b", "/a/.", "/a\u{0}b",
            "/ａ", String(repeating: "a", count: 1000)
        ] {
            XCTAssertThrowsError(try PathId(validating: bad), bad)
        }
        XCTAssertEqual(try PathId(validating: "shop/web").description, "/shop/web")
        XCTAssertEqual(try PathId(validating: "/shop/web").safeName, "shop_web")
    }

    func testAbsurdNumbersAreRefusedByField() throws {
        XCTAssertNotNil(try errors(#"{"id":"/x","cmd":"x","cpus":1e308}"#)["/cpus"])
        XCTAssertNotNil(try errors(#"{"id":"/x","cmd":"x","cpus":-1}"#)["/cpus"])
        XCTAssertNotNil(try errors(#"{"id":"/x","cmd":"x","mem":0}"#)["/mem"])
        XCTAssertNotNil(try errors(#"{"id":"/x","cmd":"x","instances":1000000000}"#)["/instances"])
        XCTAssertNotNil(try errors(#"{"id":"/x","cmd":"x","backoffFactor":0.5}"#)["/backoffFactor"])
        XCTAssertNotNil(try errors(#"{"id":"/x","cmd":"x","ports":[80,80]}"#)["/portDefinitions/1/port"])
        XCTAssertNotNil(try errors(#"{"id":"/x","cmd":"x","ports":[65536]}"#)["/portDefinitions/0/port"])
        XCTAssertNotNil(
            try errors(#"{"id":"/x","cmd":"x","upgradeStrategy":{"minimumHealthCapacity":2}}"#)[
                "/upgradeStrategy/minimumHealthCapacity"])
        XCTAssertNotNil(try errors(#"{"id":"/x"}"#)["/cmd"])
        XCTAssertEqual(try errors(#"{"id":"/x","cmd":"x"}"#), [:])
    }

    func testConstraintsAreChecked() throws {
        XCTAssertNotNil(try errors(#"{"id":"/x","cmd":"x","constraints":[["hostname","LIKE","(("]]}"#)["/constraints/0"])
        XCTAssertNotNil(try errors(#"{"id":"/x","cmd":"x","constraints":[["rack","MAX_PER","zero"]]}"#)["/constraints/0"])
        XCTAssertThrowsError(try decode(#"{"id":"/x","cmd":"x","constraints":[["hostname","NEAR"]]}"#)) { e in
            XCTAssertEqual((e as? APIError)?.status, 422)
            XCTAssertEqual((e as? APIError)?.details.first?.path, "/constraints/0")
        }
        XCTAssertEqual(try errors(#"{"id":"/x","cmd":"x","constraints":[["hostname","UNIQUE"],["rack","GROUP_BY","2"]]}"#), [:])
    }

    func testDecodingErrorsMapToMarathonStatuses() {
        func status(_ json: String) -> (Int, String?) {
            do {
                _ = try decode(json)
                return (0, nil)
            } catch { return (error.status, error.details.first?.path) }
        }
        XCTAssertEqual(status(#"{"id":"/x","cmd":"x","cpus":NaN}"#).0, 400)
        XCTAssertEqual(status(#"{"id":"/x","cmd":"x""#).0, 400)
        XCTAssertEqual(status(String(repeating: "[", count: 100_000)).0, 400)
        XCTAssertEqual(status(#"{"id":"/x","cmd":"x","cpus":"lots"}"#).0, 422)
        XCTAssertEqual(status(#"{"id":"/x","cmd":"x","cpus":"lots"}"#).1, "/cpus")
        XCTAssertEqual(status(#"{"id":"/X","cmd":"x"}"#).1, "/id")
        XCTAssertEqual(status(#"{"cmd":"x"}"#).1, "/id")
        // Not representable as an integer: refused while parsing (400), never clamped or stored.
        XCTAssertTrue([400, 422].contains(status(#"{"id":"/x","cmd":"x","instances":1e30}"#).0))
    }

    func testResourcesArithmetic() {
        let offer = Resources(cpus: 2, mem: 1024, disk: 0, ports: [PortRange(31000, 31004)])
        let task = Resources(cpus: 0.5, mem: 100, ports: [PortRange(31001, 31001)])
        XCTAssertTrue(offer.contains(task))
        let left = offer - task
        XCTAssertEqual(left.cpus, 1.5)
        XCTAssertEqual(left.ports, [PortRange(31000, 31000), PortRange(31002, 31004)])
        XCTAssertFalse(left.contains(task))
        XCTAssertEqual((left + task).ports, [PortRange(31000, 31004)])
        XCTAssertEqual(PortRange.parseList("31000-31010,32000"), [PortRange(31000, 31010), PortRange(32000, 32000)])
        XCTAssertNil(PortRange.parseList("10-5"))
        // Many tiny shares still sum to the whole.
        let hundred = (0..<100).reduce(Resources()) { r, _ in r + Resources(cpus: 0.01, mem: 8) }
        XCTAssertTrue(Resources(cpus: 1, mem: 800).contains(hundred))
    }

    func testSameConfigurationIgnoresScale() throws {
        let a = try decode(#"{"id":"/x","cmd":"x","instances":1}"#)
        var b = a
        b.instances = 5
        XCTAssertTrue(a.sameConfiguration(as: b))
        b.cmd = "y"
        XCTAssertFalse(a.sameConfiguration(as: b))
    }
}

/// Every example in `apps/` is a valid spec: a newcomer's first deploy must not fail on our own file.
final class ExampleAppsTests: XCTestCase {
    func testEveryExampleAppDecodesAndValidates() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let files = try FileManager.default.contentsOfDirectory(atPath: repo.path + "/apps").filter { $0.hasSuffix(".json") }
        XCTAssertGreaterThanOrEqual(files.count, 4)
        var kinds: Set<AppKind> = []
        for f in files {
            let data = try Data(contentsOf: repo.appendingPathComponent("apps/" + f))
            let app = try JSONDecoder().decode(AppDefinition.self, from: data)
            XCTAssertEqual(app.validate(), [], f)
            kinds.insert(app.kind)
        }
        XCTAssertEqual(kinds, [.service, .batch], "apps/ shows a service and a batch app")
    }
}
