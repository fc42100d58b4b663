import PacerModel

/// `pacer agent --simulate N`: N agents in one process, each with its own id, resources,
/// attributes and port range, speaking the agent protocol over real HTTP (the master cannot tell
/// them from real agents), running tasks without processes. How operators size a control plane
/// before buying machines, and how Pacer stays measured (Kubernetes' kubemark does the same).
public struct FleetConfig: Sendable {
    public var agents = 100
    /// The one listener all simulated agents share; agent n answers under `/agents/n`.
    public var host = "127.0.0.1"
    public var port = 5151
    public var masterURLs = ["http://127.0.0.1:5050"]
    /// The cluster's agent secret, as real agents have it (`AgentConfig.agentSecret`).
    public var agentSecret: String?
    /// Each agent's resources and ports.
    public var resources = Resources(cpus: 8, mem: 32_768, disk: 102_400, ports: [PortRange(31000, 32000)])
    /// Agent n gets `rack:r<n % racks>` and `zone:z<n % zones>` besides these.
    public var attributes: [String: String] = [:]
    public var racks = 10
    public var zones = 3
    /// First heartbeat interval; the master's answer sets the one after.
    public var heartbeatSeconds = 1.0
    /// From LAUNCH to RUNNING.
    public var startDelaySeconds = 0.05
    /// Share of tasks that fail on their own (exit 1) between 1 and 60 s after they start.
    public var failureRate = 0.0
    /// Tasks finish (exit 0) this long after they start; nil: they run until killed.
    public var exitAfterSeconds: Double?
    /// Tasks with health checks report their first result this long after they start, and are
    /// ready (readiness checks) then.
    public var healthyAfterSeconds = 1.0
    /// Share of health-checked tasks whose checks fail.
    public var unhealthyRate = 0.0
    /// SIGTERM to exit.
    public var stopDelaySeconds = 0.05
    public var seed: UInt64 = 1
    /// Follows the masters' leader election, as `AgentConfig.masterElection` does for a real agent
    /// (one watch for the whole fleet: etcd sees one watcher where real agents would be N).
    public var masterElection: (@Sendable (@escaping @Sendable (String?) async -> Void) async -> Void)?
    public init() {}
}
