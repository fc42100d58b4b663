import Foundation
import PacerClient
import PacerTestKit
import XCTest

/// `pacer framework --principals FILE` with secrets made by `pacer principal`: a deployer's token
/// reaches its own apps and tasks only; an admin's password reaches everything; over real HTTP.
final class PrincipalsTests: DiagnosedTestCase {
    var cluster: TestCluster?

    override func tearDown() async throws {
        if let cluster, failed { print(cluster.logs) }
        await cluster?.shutdown()
        try await super.tearDown()
    }

    func testADeployersTokenReachesOnlyItsAppsAndTasks() async throws {
        let hashed = try PacerProcess.runToEnd(
            ["-c", "printf 'ops-pw\\n' | \"$0\" principal hash-password", PacerProcess.binary], executable: "/bin/sh")
        XCTAssertEqual(hashed.status, 0, hashed.output)
        let hash = hashed.output.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(hash.hasPrefix("$2"), hash)
        let minted = try PacerProcess.runToEnd(["principal", "new-token"])
        let fields = Dictionary(
            uniqueKeysWithValues: minted.output.split(separator: "\n").compactMap { line -> (String, String)? in
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                return parts.count == 2 ? (parts[0], parts[1]) : nil
            })
        let token = try XCTUnwrap(fields["token"], minted.output)
        let digest = try XCTUnwrap(fields["token_sha256"], minted.output)

        let dir = NSTemporaryDirectory() + "pacer-principals-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/principals.yaml"
        try """
        principals:
          - {name: ops, role: admin, password_bcrypt: "\(hash)"}
          - {name: team-a, role: deployer, paths: [/team-a], token_sha256: "\(digest)"}
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let cluster = try TestCluster(frameworkArgs: ["--principals", file])
        self.cluster = cluster
        let port = cluster.frameworkPort
        let admin = URLCredentials.embed("ops:ops-pw", in: cluster.frameworkURL)
        let transport = HTTPTransport(timeout: .seconds(5))
        let bearer = [("Authorization", "Bearer \(token)")]
        try await Eventually.that("the framework knows the agent", within: 30) {
            try await transport.send(.GET, admin + "/v2/info?embed=pacer").text.contains("largestAgent")
        }
        let anonymous = try await transport.send(.GET, cluster.frameworkURL + "/v2/apps")
        XCTAssertEqual(anonymous.status, 401)

        func post(_ id: String, _ headers: [(String, String)], base: String) async throws -> HTTPResult {
            try await transport.send(
                .POST, base + "/v2/apps",
                body: Data(#"{"id":"\#(id)","cmd":"sleep 3600","instances":1,"cpus":0.01,"mem":16}"#.utf8),
                headers: headers + [("Content-Type", "application/json")])
        }
        let byAdmin = try await post("/team-b/api", [], base: admin)
        XCTAssertEqual(byAdmin.status, 201, byAdmin.text)
        let byDeployer = try await post("/team-a/web", bearer, base: cluster.frameworkURL)
        XCTAssertEqual(byDeployer.status, 201, byDeployer.text)
        let refused = try await post("/team-b/other", bearer, base: cluster.frameworkURL)
        XCTAssertEqual(refused.status, 403, refused.text)
        try await Eventually.that("both apps run a task", within: 30) {
            let t = try await transport.send(.GET, admin + "/v2/tasks").text
            return t.components(separatedBy: "TASK_RUNNING").count - 1 == 2
        }
        let own = try await transport.send(.GET, cluster.frameworkURL + "/v2/tasks", headers: bearer).text
        XCTAssertTrue(own.contains("team-a_web"), own)
        XCTAssertFalse(own.contains("team-b"), "the deployer sees its tasks only: \(own)")
        let otherTask = try await transport.send(.GET, admin + "/v2/apps/team-b/api/tasks").text
        let otherId = try XCTUnwrap(otherTask.firstMatch(of: /"id":"(team-b_api[^"]+)"/)?.output.1)
        let kill = try await transport.send(
            .POST, cluster.frameworkURL + "/v2/tasks/delete", body: Data(#"{"ids":["\#(otherId)"]}"#.utf8),
            headers: bearer + [("Content-Type", "application/json")])
        XCTAssertEqual(kill.status, 403, "no killing another team's task: \(kill.text)")
        let logs = try await transport.send(.GET, cluster.frameworkURL + "/v2/tasks/\(otherId)/files/browse", headers: bearer)
        XCTAssertEqual(logs.status, 403, "nor reading its files")

        // The console is a client of the API with the caller's credentials: it shows the same.
        let console = try await transport.send(.GET, cluster.frameworkURL + "/ui/", headers: bearer)
        XCTAssertEqual(console.status, 200, console.text)
        XCTAssertTrue(console.text.contains("/team-a/web"), console.text)
        XCTAssertFalse(console.text.contains("/team-b"), "the deployer's console shows its apps only")
        let anonymousConsole = try await transport.send(.GET, cluster.frameworkURL + "/ui/")
        XCTAssertEqual(anonymousConsole.status, 401, "the console wants credentials like the API")
        let otherApp = try await transport.send(.GET, cluster.frameworkURL + "/ui/app?id=/team-b/api", headers: bearer)
        XCTAssertEqual(otherApp.status, 403, "another team's app page is refused as its API is")
    }
}
