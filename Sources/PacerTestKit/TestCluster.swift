import Foundation
import PacerClient
import PacerModel

#if canImport(Glibc)
import Glibc
#endif

/// A master, one agent and a framework as separate `pacer` processes on free loopback ports,
/// with their own state directory: each can be killed and restarted on its own.
public final class TestCluster: @unchecked Sendable {
    // @unchecked: the processes are replaced only by the owning test, between awaits.
    public let dir: String
    public let masterPort: Int
    public let agentPort: Int
    public let frameworkPort: Int
    public let taskPorts: Int
    public private(set) var master: PacerProcess!
    /// More masters (replicas electing on etcd: give `masterArgs` a `--store`), by port.
    public private(set) var standbys: [Int: PacerProcess] = [:]
    public private(set) var agent: PacerProcess!
    public private(set) var framework: PacerProcess!

    /// Extra flags for the agent and the framework (roles, reservations, isolation), with the
    /// secrets and TLS the cluster runs with: what another replica or agent of it is given too.
    public let agentArgs: [String]
    public let frameworkArgs: [String]

    let masterArgs: [String]
    /// The binary the next (re)started master, standby, agent or framework runs: an upgrade test
    /// switches it midway.
    public var executable = PacerProcess.binary

    /// `secure`: HTTPS on every part with the test certificate (`TestPKI`) and an admin's
    /// credentials on the framework API (`adminCredentials`, in `frameworkURL`), unless the test
    /// gives its own `--tls-cert` (then `scheme` says what it serves) or its own principals.
    public init(
        agentTimeout: Double = 15, masterArgs: [String] = [], standbyMasters: Int = 0, agentArgs: [String] = [],
        frameworkArgs: [String] = [], scheme: String? = nil, secure: Bool = true
    ) throws {
        // The secure configuration is the tested one: every cluster runs with TLS, the agent secret,
        // framework credentials and an authenticated API unless the test sets its own.
        let tls = secure && scheme == nil && !masterArgs.contains("--tls-cert") ? TestPKI.serverArgs : []
        self.scheme = scheme ?? (tls.isEmpty ? "http" : "https")
        let ownAccess = frameworkArgs.contains("--principals") || frameworkArgs.contains("--http-credentials")
        adminCredentials = secure && !ownAccess ? Self.adminCredentials : nil
        self.masterArgs = (masterArgs.contains("--agent-secret") ? masterArgs : masterArgs + Self.masterSecretArgs) + tls
        self.agentArgs = (agentArgs.contains("--agent-secret") ? agentArgs : agentArgs + Self.agentSecretArgs) + tls
        self.frameworkArgs =
            (frameworkArgs.contains("--master-credentials") ? frameworkArgs : frameworkArgs + Self.frameworkSecretArgs) + tls
            + (adminCredentials.map { ["--http-credentials", $0] } ?? [])
        dir = NSTemporaryDirectory() + "pacer-e2e-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let base = FreePorts.block(3)
        masterPort = base
        agentPort = base + 1
        frameworkPort = base + 2
        taskPorts = FreePorts.block(100)
        self.agentTimeout = agentTimeout
        standbyPorts = (0..<standbyMasters).map { _ in FreePorts.block(1) }
        try startMaster()
        for port in standbyPorts { try startStandby(port) }
        try startAgent()
        try startFramework()
    }

    /// The cluster secrets test clusters run with (`ClusterSecretsMiddleware`): give them to any
    /// extra agent or framework a test starts against the cluster's masters.
    public static let agentSecret = "test-agent-secret"
    public static let frameworkCredentials = "pacer:test-framework-secret"
    public static var masterSecretArgs: [String] {
        ["--agent-secret", agentSecret, "--framework-credentials", frameworkCredentials]
    }
    public static var agentSecretArgs: [String] { ["--agent-secret", agentSecret] }
    public static var frameworkSecretArgs: [String] {
        ["--master-credentials", frameworkCredentials, "--agent-secret", agentSecret]
    }

    /// `https` when the test gives every part `--tls-cert`.
    public let scheme: String
    public var masterURL: String { "\(scheme)://127.0.0.1:\(masterPort)" }
    let standbyPorts: [Int]
    /// Every master, as agents and frameworks are given them.
    public var masterURLs: [String] { ([masterPort] + standbyPorts).map { "\(scheme)://127.0.0.1:\($0)" } }
    var masterList: String { masterURLs.joined(separator: ",") }
    /// The framework API's address, with the admin's credentials when the cluster set them.
    public var frameworkURL: String { frameworkURL(port: frameworkPort) }
    /// The framework API reached through `port` (a load balancer's VIP, say): same scheme and credentials.
    public func frameworkURL(port: Int) -> String {
        let url = "\(scheme)://127.0.0.1:\(port)"
        return adminCredentials.map { URLCredentials.embed($0, in: url) } ?? url
    }
    /// The framework API's admin (`--http-credentials`), when the cluster set it.
    public let adminCredentials: String?
    public static let adminCredentials = "admin:test-admin-pw"
    /// Whether the parts serve the test certificate (`TestPKI`).
    public var usesTestPKI: Bool { masterArgs.contains(TestPKI.files.certificatePath) }
    public var agentURL: String { "\(scheme)://127.0.0.1:\(agentPort)" }
    public var client: MarathonClient { MarathonClient(baseURL: frameworkURL) }

    let agentTimeout: Double

    public func startMaster() throws {
        master = try PacerProcess(
            name: "master",
            arguments: [
                "master", "--port", "\(masterPort)", "--state-dir", dir,
                "--agent-timeout", "\(agentTimeout)"
            ] + masterArgs, logDir: dir, executable: executable)
    }

    /// (Re)starts the standby master on `port`, with its own state directory.
    public func startStandby(_ port: Int) throws {
        standbys[port] = try PacerProcess(
            name: "master-\(port)",
            arguments: [
                "master", "--port", "\(port)", "--state-dir", dir + "/m\(port)", "--agent-timeout", "\(agentTimeout)"
            ] + masterArgs, logDir: dir, executable: executable)
    }

    public func startAgent() throws {
        agent = try PacerProcess(
            name: "agent",
            arguments: [
                "agent", "--port", "\(agentPort)", "--master", masterList, "--state-dir", dir, "--cpus", "4", "--mem", "4096",
                "--ports", "\(taskPorts)-\(taskPorts + 99)", "--attributes", "rack:r1"
            ] + agentArgs, logDir: dir, executable: executable)
    }

    /// `environment`: extra variables (`PACER_FAILPOINTS`, say).
    public func startFramework(environment: [String: String] = [:]) throws {
        framework = try PacerProcess(
            name: "framework",
            arguments: [
                "framework", "--port", "\(frameworkPort)", "--master", masterList,
                "--state-dir", dir
            ] + frameworkArgs, logDir: dir, environment: environment, executable: executable)
    }

    /// Waits until the framework answers and has subscribed (it then knows the agent's size).
    public func ready() async throws {
        let client = self.client
        try await Eventually.that("framework up", within: 20) { try await client.raw("GET", "/ping").status == 200 }
        try await Eventually.that("agent registered", within: 20) { try await self.masterState().agents.count == 1 }
        try await Eventually.that("framework subscribed", within: 20) {
            try await self.masterState().frameworks.contains { $0.connected }
        }
        try await Eventually.that("framework knows the agents' size", within: 20) {
            try await client.raw("GET", "/v2/info?embed=pacer").text.contains("largestAgent")
        }
    }

    /// The leading master's state (a follower redirects there; a dead master is skipped).
    public func masterState() async throws -> ClusterState {
        var lastError: (any Error)?
        for url in masterURLs {
            do {
                let r = try await HTTPTransport(timeout: .seconds(3)).expectOK(.GET, url + "/state")
                return try WireJSON.masterDecoder().decode(ClusterState.self, from: r.body)
            } catch { lastError = error }
        }
        throw lastError!
    }

    /// Process ids of the tasks the agent runs, by task id.
    public func taskPids() async throws -> [String: Int32] { try await Self.taskPids(agent: agentURL) }

    /// Live tasks of the agent at `agentURL` and the pid the agent watches (each task's keeper).
    public static func taskPids(agent agentURL: String) async throws -> [String: Int32] {
        struct Row: Decodable {
            var info: TaskInfo
            var pid: Int32?
            var state: TaskState
        }
        let r = try await HTTPTransport(timeout: .seconds(3)).expectOK(.GET, agentURL + "/state")
        let rows = try WireJSON.masterDecoder().decode([Row].self, from: r.body)
        return Dictionary(
            uniqueKeysWithValues: rows.filter { !$0.state.isTerminal }.compactMap { r in r.pid.map { (r.info.taskId, $0) } })
    }

    /// What the framework and master say now — deployments with why each waits, tasks, agents and
    /// offers — for a failing test's report: a wait that timed out says what it was stuck on.
    public func diagnostics() async -> String {
        var out: [String] = []
        for (what, url) in [
            ("deployments", frameworkURL + "/v2/deployments?embed=pacer"), ("tasks", frameworkURL + "/v2/tasks"),
            ("framework metrics", frameworkURL + "/metrics"), ("master metrics", masterURL + "/metrics")
        ] {
            let answer = try? await HTTPTransport(timeout: .seconds(3)).send(.GET, url)
            out.append("===== \(what)\n" + (answer.map { String($0.text.prefix(4000)) } ?? "(no answer)"))
        }
        return out.joined(separator: "\n")
    }

    /// Everything the processes logged, for a failing test's report.
    public var logs: String {
        ([master, agent, framework].compactMap { $0 } + standbys.keys.sorted().compactMap { standbys[$0] })
            .map { "===== \($0.name)\n\($0.log.suffix(6000))" }.joined(separator: "\n")
    }

    /// Stops the parts and every task process they started, whatever state the test left them in.
    public func shutdown() async {
        let pids = (try? await taskPids()) ?? [:]
        framework?.stop()
        agent?.stop()
        master?.stop()
        for m in standbys.values { m.stop() }
        for pid in pids.values {
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
        }
        try? FileManager.default.removeItem(atPath: dir)
    }
}
