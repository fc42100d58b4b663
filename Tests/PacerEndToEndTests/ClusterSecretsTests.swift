import Foundation
import PacerClient
import PacerModel
import PacerTestKit
import XCTest

/// The cluster's own links with secrets: the agent joins with the agent secret, the framework
/// subscribes with its credentials, the operator changes policy with theirs — and a stray agent,
/// an unknown framework, an anonymous operator call, or a LAUNCH and a file read sent straight to
/// the agent without the secret are each refused with 401, and nothing runs because of them.
final class ClusterSecretsTests: DiagnosedTestCase {
    var cluster: TestCluster?
    var others: [PacerProcess] = []

    override func tearDown() async throws {
        if let cluster, failed {
            print(cluster.logs)
            for p in others { print("===== \(p.name)\n\(p.log.suffix(3000))") }
        }
        for p in others { p.stop(grace: 3) }
        await cluster?.shutdown()
        try await super.tearDown()
    }

    func testOnlyHoldersOfTheSecretsJoinSubscribeOperateAndLaunch() async throws {
        let secret = "s3cret-agents"
        let cluster = try TestCluster(
            masterArgs: [
                "--agent-secret", secret, "--framework-credentials", "pacer:fw-secret", "--operator-credentials", "ops:op-pw"
            ],
            agentArgs: ["--agent-secret", secret],
            frameworkArgs: ["--master-credentials", "pacer:fw-secret", "--agent-secret", secret])
        self.cluster = cluster
        try await cluster.ready()
        let transport = HTTPTransport(timeout: .seconds(5))

        // The legitimate path works end to end: a task runs, its log is read through the framework.
        let posted = try await cluster.client.raw(
            "POST", "/v2/apps",
            body: Data(#"{"id":"/s","cmd":"echo hello-secret; sleep 3600","instances":1,"cpus":0.1,"mem":16}"#.utf8))
        XCTAssertEqual(posted.status, 201, posted.text)
        let taskId = try await Eventually.value("the task runs", within: 20) { () -> String? in
            try await cluster.client.tasks(app: PathId(validating: "/s")).first { $0.state == "TASK_RUNNING" }?.id
        }
        try await Eventually.that("its log is read through the framework (which holds the agent secret)", within: 10) {
            let r = try await transport.send(
                .GET, cluster.frameworkURL + "/v2/tasks/\(taskId)/files/read?path=stdout&offset=0&length=100")
            return r.status == 200 && r.text.contains("hello-secret")
        }

        // A stray agent without the secret cannot register.
        let info =
            #"{"type":"REGISTER","agentId":"stray","register":{"agent":{"id":"stray","hostname":"evil","url":"http://127.0.0.1:1","resources":{"cpus":64,"mem":65536}},"tasks":[],"boot":"b","sequence":1}}"#
        let stray = try await transport.send(.POST, cluster.masterURL + "/api/v1/agent", body: Data(info.utf8))
        XCTAssertEqual(stray.status, 401, stray.text)
        let wrong = try await transport.send(
            .POST, URLCredentials.embed("agent:guess", in: cluster.masterURL) + "/api/v1/agent", body: Data(info.utf8))
        XCTAssertEqual(wrong.status, 401)
        let agents = try await cluster.masterState().agents
        XCTAssertEqual(agents.count, 1, "only the real agent")

        // An unknown framework cannot subscribe or call.
        let subscribe = #"{"type":"SUBSCRIBE","subscribe":{"frameworkInfo":{"name":"evil","failoverTimeoutSeconds":60}}}"#
        let sub = try await transport.send(.POST, cluster.masterURL + "/api/v1/scheduler", body: Data(subscribe.utf8))
        XCTAssertEqual(sub.status, 401, sub.text)

        // Operator changes need the operator's credentials; reading stays open.
        let weight = Data(#"[{"role":"web","weight":2}]"#.utf8)
        let anonymous = try await transport.send(.PUT, cluster.masterURL + "/master/weights", body: weight)
        XCTAssertEqual(anonymous.status, 401)
        let byOperator = try await transport.send(
            .PUT, URLCredentials.embed("ops:op-pw", in: cluster.masterURL) + "/master/weights", body: weight)
        XCTAssertEqual(byOperator.status, 200, byOperator.text)
        let roles = try await transport.send(.GET, cluster.masterURL + "/master/roles")
        XCTAssertEqual(roles.status, 200)

        // Straight to the agent, without the secret: no LAUNCH, no KILL, no file read.
        let launch = #"{"type":"LAUNCH","launch":{"frameworkId":"x","tasks":[]}}"#
        let direct = try await transport.send(.POST, cluster.agentURL + "/api/v1", body: Data(launch.utf8))
        XCTAssertEqual(direct.status, 401, direct.text)
        let files = try await transport.send(.GET, cluster.agentURL + "/files/read?path=\(taskId)/stdout&offset=0&length=10")
        XCTAssertEqual(files.status, 401)
        let pids = try await cluster.taskPids()
        XCTAssertEqual(pids.count, 1, "the one legitimate task, nothing else")
    }
}
