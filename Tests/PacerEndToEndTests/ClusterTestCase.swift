import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// Base for tests against a real cluster: processes are started fresh per test and their logs
/// are printed only when the test fails.
class ClusterTestCase: DiagnosedTestCase {
    var cluster: TestCluster!
    var client: MarathonClient { cluster.client }

    /// Seconds of agent silence before the master marks it unreachable.
    var agentTimeout: Double { 15 }
    /// Extra arguments of the agent and of the framework.
    var agentArguments: [String] { [] }
    var frameworkArguments: [String] { [] }
    /// TLS and an authenticated API (the default: the secure configuration is the tested one);
    /// off only for tests of the plain protocol itself.
    var secure: Bool { true }

    override func setUp() async throws {
        cluster = try TestCluster(
            agentTimeout: agentTimeout, agentArgs: agentArguments, frameworkArgs: frameworkArguments, secure: secure)
        try await cluster.ready()
    }

    override func tearDown() async throws {
        if failed {
            print(cluster.logs)
            print(await cluster.diagnostics())
        }
        await cluster.shutdown()
        try await super.tearDown()
    }

    func id(_ s: String) -> PathId { try! PathId(validating: s) }

    func post(_ json: String) async throws -> HTTPResult {
        try await client.raw("POST", "/v2/apps", body: Data(json.utf8))
    }

    /// Waits until the app has exactly `count` running tasks and nothing else.
    @discardableResult
    func waitRunning(_ app: String, _ count: Int, within: Double = 15) async throws -> [MarathonTask] {
        let client = self.client
        let appId = id(app)
        return try await Eventually.value("\(app) has \(count) running tasks", within: within) {
            let tasks = try await client.tasks(app: appId)
            return tasks.count == count && tasks.allSatisfy({ $0.state == "TASK_RUNNING" }) ? tasks : nil
        }
    }

    func sleeper(_ app: String, instances: Int, extra: String = "") -> String {
        #"{"id":"\#(app)","cmd":"sleep 3600","instances":\#(instances),"cpus":0.01,"mem":8\#(extra)}"#
    }
}
