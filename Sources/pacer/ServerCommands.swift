import ArgumentParser
import Foundation
import Logging
import PacerAgent
import PacerAgentSim
import PacerApps
import PacerClient
import PacerLB
import PacerLBCore
import PacerMaster
import PacerMasterCore
import PacerModel
import PacerServerKit
import PacerStore
import ServiceLifecycle

struct MasterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "master", abstract: "Run a master.")
    /// The masters' election key under their store's namespace; agents watch it (`--master-election`).
    static let electionKey = "master-leader"
    @OptionGroup var server: ServerOptions
    @Option(help: "Port of the master API.") var port = 5050
    @Option(help: "Seconds without a heartbeat before an agent is unreachable.") var agentTimeout = 15.0
    @Option(
        help:
            "Seconds between an agent's heartbeats in a small cluster; intervals stretch once agents would send more than --max-heartbeats-per-second."
    )
    var heartbeatInterval = 1.0
    @Option(
        help:
            "Heartbeats a second the master takes at most: more agents heartbeat less often, and their timeouts grow with their intervals (at 100 and 2,000 agents: every 20 s, unreachable after 72 s)."
    )
    var maxHeartbeatsPerSecond = 100.0
    @Option(
        help: """
            How fast silent agents may be declared unreachable (their tasks then get replaced): N/DURATION as Mesos' \
            --agent_removal_rate_limit (10/1mins: ten at once, then one every 6 s; 1/20mins); none: no limit.
            """)
    var agentRemovalRateLimit = "10/1mins"
    @Option(help: "Seconds between allocation samples (a day of them is kept).") var statsInterval = 10.0
    @Option(help: "Seconds an offer may go unanswered before it is rescinded and offered again.") var offerTimeout = 15.0
    @Option(help: "etcd://host:port[,host:port…][/namespace]: masters elect a leader there and keep the operator's policy in it.")
    var store: String?
    @Option(help: "Seconds of the leading master's etcd lease (renewed every sixth of it).") var leaderTtl = 2
    @Option(help: "The cluster's agent secret: agents must register with it, and it goes with LAUNCH and KILL.")
    var agentSecret: String?
    @Option(help: "name:secret a framework must subscribe and call with (repeat for several; none: any framework).")
    var frameworkCredentials: [String] = []
    @Option(help: "user:password that reservation, weight and quota changes need.") var operatorCredentials: String?
    @Argument(help: StateAction.help) var action: [String] = []

    func validate() throws {
        for c in frameworkCredentials + [operatorCredentials].compactMap({ $0 }) where !c.contains(":") {
            throw ValidationError("--framework-credentials, --operator-credentials: name:secret")
        }
        if agentSecret?.isEmpty == true { throw ValidationError("--agent-secret: not empty") }
        try server.checkExposure(authenticated: agentSecret != nil && !frameworkCredentials.isEmpty && operatorCredentials != nil)
    }

    func run() async throws {
        let action = try StateAction(action, part: "master")
        try server.configureStoreTLS()
        if case .serve = action { Logs.bootstrap(server.logLevel, format: server.logFormat) }
        var config = MasterConfig()
        config.host = server.bind
        config.port = port
        config.settings.agentTimeout = .seconds(agentTimeout)
        // Two missed heartbeats before an agent is declared unreachable, at least.
        guard heartbeatInterval > 0, agentTimeout >= 2 * heartbeatInterval else {
            throw ValidationError("--heartbeat-interval: more than 0 and at most half of --agent-timeout (\(agentTimeout) s)")
        }
        config.settings.heartbeat = .seconds(heartbeatInterval)
        guard maxHeartbeatsPerSecond > 0 else { throw ValidationError("--max-heartbeats-per-second: more than 0") }
        config.settings.maxHeartbeatsPerSecond = maxHeartbeatsPerSecond
        if agentRemovalRateLimit == "none" {
            config.settings.agentRemovalRate = nil
        } else {
            guard let rate = RemovalRate(parsing: agentRemovalRateLimit) else {
                throw ValidationError("--agent-removal-rate-limit: N/DURATION (e.g. 10/1mins, 1/20mins, 100/30secs) or none")
            }
            config.settings.agentRemovalRate = rate
        }
        guard offerTimeout > 0 else { throw ValidationError("--offer-timeout: seconds, more than 0") }
        config.settings.offerTimeout = .seconds(offerTimeout)
        guard statsInterval >= 0.1 else { throw ValidationError("--stats-interval must be at least 0.1 s") }
        config.settings.statsPeriod = .seconds(statsInterval)
        config.stateDir = server.stateDir + "/master"
        config.agentSecret = agentSecret
        config.frameworkCredentials = frameworkCredentials
        config.operatorCredentials = operatorCredentials
        config.tls = try server.tls(logger: Logger(label: "pacer.master"))
        if let store {
            guard store.hasPrefix("etcd://") || store.hasPrefix("etcds://") else {
                throw ValidationError("--store for masters: etcd://host:port[,…] (replicas need a shared store)")
            }
            let (endpoints, namespace) = try EtcdStore.endpoints(fromURL: store)
            let etcd = EtcdStore(endpoints: endpoints, namespace: namespace)
            config.store = etcd
            config.election = LeaderElection(gateway: etcd.gateway, key: namespace + Self.electionKey, ttl: leaderTtl)
        }
        if try await StateAction.master(action, config: config) { return }
        try await Runner.run([try await MasterService(config: config)])
    }
}

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "agent", abstract: "Run an agent that launches tasks.")
    @OptionGroup var server: ServerOptions
    @Option(help: "Port of the agent API.") var port = 5051
    @Option(help: "Master URL(s), comma-separated.") var master = "http://127.0.0.1:5050"
    @Option(
        help: """
            The masters' --store (etcd[s]://host:port[,…][/namespace]): follow their leader election there, so a new \
            leading master is found at once rather than at the next failed heartbeat (as Mesos agents follow ZooKeeper).
            """)
    var masterElection: String?
    @Option(help: "Hostname this agent reports (tasks' HOST).") var hostname = "127.0.0.1"
    @Option(help: "CPUs to offer (default: detected).") var cpus: Double?
    @Option(help: "Memory to offer in MiB (default: detected).") var mem: Double?
    @Option(help: "Disk to offer in MiB.") var disk: Double?
    @Option(help: "Port ranges to offer, e.g. 31000-32000.") var ports: String?
    @Option(help: "Attributes, e.g. rack:r1;zone:a.") var attributes: String?
    @Option(help: "Static reservations, e.g. web:cpus=2,mem=1024;batch:cpus=1.") var reserved: String?
    @Option(
        help:
            "Seconds a task keeps running while its agent is gone before the task's keeper stops it (Mesos' recovery_timeout); 0: forever."
    )
    var recoveryTimeout = 900
    @Option(help: "Sandboxes of ended tasks kept for their logs, newest first; older ones are removed.") var sandboxKeep = 100
    @Option(help: "Seconds an ended task's sandbox is kept at most.") var sandboxMaxAge = 604_800.0
    @Option(help: "The cluster's agent secret (the masters' --agent-secret): to register, and to accept messages.")
    var agentSecret: String?
    @OptionGroup var isolation: IsolationOptions
    @OptionGroup var simulation: SimulationOptions

    func validate() throws { try server.checkExposure(authenticated: agentSecret != nil) }

    func run() async throws {
        Logs.bootstrap(server.logLevel, format: server.logFormat)
        let election = try electionWatch()
        if let n = simulation.simulate {
            var fleet = try simulation.fleet(
                agents: n, server: server, port: port, master: master,
                cpus: cpus, mem: mem, disk: disk, ports: ports,
                attributes: attributes, agentSecret: agentSecret)
            fleet.masterElection = election
            return try await Runner.run([FleetService(config: fleet)])
        }
        var config = try Runner.agentConfig(
            server: server, port: port, master: master, hostname: hostname, cpus: cpus,
            mem: mem, disk: disk, ports: ports, attributes: attributes)
        config.isolation = try isolation.settings()
        guard recoveryTimeout >= 0 else { throw ValidationError("--recovery-timeout: seconds, 0 or more") }
        config.settings.recoveryTimeout = .seconds(recoveryTimeout)
        guard sandboxKeep >= 0, sandboxMaxAge >= 0 else { throw ValidationError("--sandbox-keep, --sandbox-max-age: 0 or more") }
        config.sandboxKeep = sandboxKeep
        config.sandboxMaxAge = sandboxMaxAge
        config.agentSecret = agentSecret
        config.masterElection = election
        config.tls = try server.tls(logger: Logger(label: "pacer.agent"))
        for part in (reserved ?? "").split(separator: ";") {
            let roleAndList = part.split(separator: ":", maxSplits: 1)
            guard roleAndList.count == 2, Role.isValid(String(roleAndList[0])), roleAndList[0] != "*" else {
                throw ValidationError("--reserved: expected role:cpus=N,mem=N;role:…")
            }
            config.reserved[String(roleAndList[0])] = try ClusterCommand.resources(String(roleAndList[1]))
        }
        let total = config.reserved.values.reduce(Resources()) { $0 + $1 }
        guard config.resources.contains(total) else { throw ValidationError("--reserved: more than the agent offers") }
        try await Runner.run([try AgentService(config: config)])
    }
}

extension AgentCommand {
    /// `--master-election`: the masters' election key in their store, watched.
    func electionWatch() throws -> (@Sendable (@escaping @Sendable (String?) async -> Void) async -> Void)? {
        guard let masterElection else { return nil }
        try server.configureStoreTLS()
        let (endpoints, namespace): ([String], String)
        do { (endpoints, namespace) = try EtcdStore.endpoints(fromURL: masterElection) } catch {
            throw ValidationError("--master-election: \(error)")
        }
        let watch = LeaderWatch(gateway: EtcdGateway(endpoints: endpoints), key: namespace + MasterCommand.electionKey)
        return { changed in await watch.follow(changed) }
    }
}

/// `pacer agent --simulate N`: simulated agents for sizing and benchmarks (no processes run).
struct SimulationOptions: ParsableArguments {
    @Option(
        help:
            "Run N simulated agents in this process instead of one real agent: real protocol over real HTTP, tasks without processes."
    )
    var simulate: Int?
    @Option(help: "Simulated agents: seconds from LAUNCH to RUNNING.") var simStartDelay = 0.05
    @Option(help: "Simulated agents: share of tasks that fail on their own (0–1), 1–60 s after starting.") var simFailureRate =
        0.0
    @Option(help: "Simulated agents: tasks finish this many seconds after starting (default: run until killed).")
    var simExitAfter: Double?
    @Option(help: "Simulated agents: seconds until a task's health and readiness checks first pass.") var simHealthyAfter = 1.0
    @Option(help: "Simulated agents: share of health-checked tasks whose checks fail (0–1).") var simUnhealthyRate = 0.0
    @Option(help: "Simulated agents: racks (attribute rack:rN) and zones (zone:zN) the agents are spread over.") var simRacks = 10
    @Option var simZones = 3
    @Option(help: "Simulated agents: seed of their random choices (repeatable runs).") var simSeed: UInt64 = 1

    func fleet(
        agents: Int, server: ServerOptions, port: Int, master: String, cpus: Double?, mem: Double?, disk: Double?,
        ports: String?, attributes: String?, agentSecret: String?
    ) throws -> FleetConfig {
        guard agents >= 1 else { throw ValidationError("--simulate: at least 1 agent") }
        for (name, rate) in [("--sim-failure-rate", simFailureRate), ("--sim-unhealthy-rate", simUnhealthyRate)]
        where !(0...1).contains(rate) {
            throw ValidationError("\(name): a share between 0 and 1")
        }
        // The real agent's flags, read the same way, give every simulated agent its size.
        let real = try Runner.agentConfig(
            server: server, port: port, master: master, hostname: server.bind, cpus: cpus ?? 8,
            mem: mem ?? 32_768, disk: disk ?? 102_400, ports: ports ?? "31000-32000", attributes: attributes)
        var c = FleetConfig()
        c.agentSecret = agentSecret
        c.agents = agents
        c.host = server.bind
        c.port = port
        c.masterURLs = real.masterURLs
        c.resources = real.resources
        c.attributes = real.attributes
        c.racks = simRacks
        c.zones = simZones
        c.startDelaySeconds = simStartDelay
        c.failureRate = simFailureRate
        c.exitAfterSeconds = simExitAfter
        c.healthyAfterSeconds = simHealthyAfter
        c.unhealthyRate = simUnhealthyRate
        c.seed = simSeed
        return c
    }
}

struct IsolationOptions: ParsableArguments {
    @Option(
        help:
            "How tasks are confined: 'cgroups' (CPU and memory limits; add ',namespaces/pid' and/or ',filesystem/tmp' for own pid namespace and private /tmp), or 'none'."
    )
    var isolation = "cgroups"
    @Option(help: "User tasks run as when their app names none.") var taskUser = "nobody"
    @Flag(help: "Let apps run tasks as root.") var allowRootTasks = false
    @Option(help: "Users apps may name besides --task-user, per role: 'web=www-data,app;*=svc' (* for every role).")
    var taskUsers: String?

    func settings() throws -> IsolationSettings {
        var s = try IsolationSettings.parse(isolation)
        s.taskUser = taskUser
        s.allowRoot = allowRootTasks
        for entry in (taskUsers ?? "").split(separator: ";") {
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ValidationError("--task-users: ROLE=user,user;ROLE=user (got '\(entry)')")
            }
            s.allowedUsers[parts[0], default: []].formUnion(parts[1].split(separator: ",").map(String.init))
        }
        return s
    }
}

struct FrameworkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "framework", abstract: "Run the app framework (Marathon API).")
    @OptionGroup var server: ServerOptions
    @Option(help: "Port of the Marathon-compatible API.") var port = 8080
    @Option(help: "Master URL(s), comma-separated.") var master = "http://127.0.0.1:5050"
    @Option(help: "State store: sqlite:PATH (default: STATE_DIR/framework.sqlite) or etcd://host:port[,host:port…][/namespace].")
    var store: String?
    @Option(help: "Roles to subscribe with, comma-separated; apps choose one with `role`.") var roles = "*"
    @Option(help: "Seconds of the leader's etcd lease (renewed every sixth of it).") var leaderTtl = 2
    @Option(
        help:
            "Seconds without progress after which a deployment is reported stalled (event, metric, /v2/deployments?embed=pacer).")
    var deploymentStallTimeout = 300.0
    @Option(help: "API requests handled at once; more are answered 503 at once (Marathon's --http_max_concurrent_requests).")
    var httpMaxConcurrentRequests = FrameworkConfig.defaultRequestLimit
    @Option(help: "user:password every API request must carry (HTTP Basic; Marathon's --http_credentials).")
    var httpCredentials: String?
    @Option(help: "YAML file of principals (admin, deployer of paths, viewer, loadbalancer) with hashed secrets.")
    var principals: String?
    @Option(help: "name:secret this framework subscribes to the masters with (their --framework-credentials).")
    var masterCredentials: String?
    @Option(help: "The cluster's agent secret, to read task files from agents that require it.") var agentSecret: String?
    @Option(help: "Hosts event callbacks may go to: host, *.domain or a.b.c.d/n, comma-separated (default: any but link-local).")
    var eventCallbackAllow: String?
    @Option(help: "Browser origins allowed cross-origin API access (CORS), comma-separated; default: none.")
    var corsOrigin: String?
    @Option(help: "Load balancers' admin addresses the console's Traffic page reads, comma-separated (http://lb1:9090,…).")
    var consoleLb: String?
    @Argument(help: StateAction.help) var action: [String] = []

    func validate() throws {
        if let httpCredentials, !httpCredentials.contains(":") { throw ValidationError("--http-credentials: user:password") }
        try server.checkExposure(authenticated: principals != nil || httpCredentials != nil)
    }

    func run() async throws {
        let action = try StateAction(action, part: "framework")
        try server.configureStoreTLS()
        if try await StateAction.framework(action, store: { try Runner.openStore(self.store, stateDir: server.stateDir) }) {
            return
        }
        Logs.bootstrap(server.logLevel, format: server.logFormat)
        var config = FrameworkConfig()
        guard httpMaxConcurrentRequests > 0 else { throw ValidationError("--http-max-concurrent-requests: at least 1") }
        config.requestLimit = httpMaxConcurrentRequests
        config.authenticator = try Runner.authenticator(principals: principals, credentials: httpCredentials)
        guard deploymentStallTimeout > 0 else { throw ValidationError("--deployment-stall-timeout: seconds, more than 0") }
        config.settings.stall = .seconds(deploymentStallTimeout)
        config.settings.roles = Runner.urls(roles)
        config.host = server.bind
        config.port = port
        config.masterURLs = Runner.urls(master).map { url in masterCredentials.map { URLCredentials.embed($0, in: url) } ?? url }
        config.agentSecret = agentSecret
        config.eventCallbackAllow = eventCallbackAllow.map(Runner.urls) ?? []
        config.corsOrigins = corsOrigin.map(Runner.urls) ?? []
        config.consoleLoadBalancers = consoleLb.map(Runner.urls) ?? []
        config.tls = try server.tls(logger: Logger(label: "pacer.framework"))
        let store = try Runner.openStore(store, stateDir: server.stateDir)
        config.storeDescription = self.store ?? "sqlite:\(server.stateDir)/framework.sqlite"
        if let etcd = store as? EtcdStore {
            // Replicas sharing an etcd store elect one leader; the others forward to it.
            config.election = LeaderElection(gateway: etcd.gateway, key: etcd.namespace + "leader", ttl: leaderTtl)
        }
        try await Runner.run([FrameworkService(config: config, store: store)])
    }
}

struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up", abstract: "Run a whole cluster on this machine: master, agents and framework.")
    @OptionGroup var server: ServerOptions
    @Option(help: "Number of agents (ports 5051, 5052, …).") var agents = 1
    @Option(help: "CPUs each agent offers (default: detected).") var agentCpus: Double?
    @Option(help: "Memory each agent offers in MiB (default: detected).") var agentMem: Double?
    @Option(help: "Port of the framework API.") var port = 8080
    @Option(help: "Port of the master.") var masterPort = 5050
    @Option(help: "Port of the first agent; the others follow.") var agentPort = 5051
    @Option(help: "First task port of the first agent; each agent offers 1000 ports.") var taskPorts = 31000
    @Option(help: "Load balancer configuration file; without one, the built-in local setup (lb-config/local.yaml).")
    var lbConfig: String?
    @Option(help: "Port of the load balancer's admin API (/healthz, /stats, /metrics); overrides the configuration.")
    var lbAdminPort: Int?
    @Option(help: "Port of the load balancer's HTTP virtual hosts (0: off); overrides the configuration.")
    var lbHttpPort: Int?
    @Flag(help: "Run no load balancer.") var noLb = false
    @Option(help: "user:password every framework API request must carry (HTTP Basic); the load balancer is given them.")
    var httpCredentials: String?
    @Flag(
        help:
            "Production-like: HTTPS on every part (a CA and certificate made on first start in STATE_DIR/tls/), an admin token the API wants (STATE_DIR/admin-token), secrets between the parts. The CLI finds both in the state directory."
    )
    var secure = false
    @Option(help: "YAML file of principals (admin, deployer of paths, viewer, loadbalancer) the framework API accepts too.")
    var principals: String?
    @OptionGroup var isolation: IsolationOptions

    /// One machine, one command: its parts talk plain HTTP among themselves, on loopback unless
    /// --insecure — or, with --secure, HTTPS with credentials everywhere (then any address).
    func validate() throws {
        guard server.tlsCert == nil else {
            throw ValidationError("pacer up makes its own certificates with --secure; run the parts for your own")
        }
        if let httpCredentials, !httpCredentials.contains(":") { throw ValidationError("--http-credentials: user:password") }
        if !secure { try server.checkExposure(authenticated: false) }
    }

    func run() async throws {
        Logs.bootstrap(server.logLevel, format: server.logFormat)
        let secrets = secure ? try UpSecrets(stateDir: server.stateDir, bind: server.bind) : nil
        let scheme = secure ? "https" : "http"

        var master = MasterConfig()
        master.host = server.bind
        master.port = masterPort
        master.stateDir = server.stateDir + "/master"
        master.tls = secrets?.tls
        master.agentSecret = secrets?.agentSecret
        master.frameworkCredentials = secrets.map { [$0.frameworkCredentials] } ?? []
        master.operatorCredentials = secrets.map { "admin:" + $0.adminToken }
        let masterURL = "\(scheme)://\(server.bind):\(masterPort)"
        var services: [any Service] = [try await MasterService(config: master)]
        for i in 0..<max(1, agents) {
            let first = taskPorts + i * 1000
            var config = try Runner.agentConfig(
                server: server, port: agentPort + i, master: masterURL,
                hostname: server.bind, cpus: agentCpus, mem: agentMem, disk: nil,
                ports: "\(first)-\(first + 999)", attributes: nil)
            config.killTasksOnShutdown = true
            config.isolation = try isolation.settings()
            config.tls = secrets?.tls
            config.agentSecret = secrets?.agentSecret
            do { services.append(try AgentService(config: config)) } catch let error as IsolationError
                where config.isolation.cgroups
            {
                // A laptop or a container without cgroup access still gets a working cluster, visibly unconfined.
                Logger(label: "pacer").warning("tasks will run WITHOUT isolation (no CPU or memory limits): \(error)")
                config.isolation.cgroups = false
                services.append(try AgentService(config: config))
            }
        }
        var framework = FrameworkConfig()
        framework.host = server.bind
        framework.port = port
        framework.masterURLs = [secrets.map { URLCredentials.embed($0.frameworkCredentials, in: masterURL) } ?? masterURL]
        framework.storeDescription = "sqlite:\(server.stateDir)/framework.sqlite"
        framework.tls = secrets?.tls
        framework.agentSecret = secrets?.agentSecret
        var accepted = Principals(entries: secrets?.principals ?? [])
        if let principals {
            do { for entry in try Principals.load(principals).entries { accepted.add(entry) } } catch {
                throw ValidationError("--principals: \(error)")
            }
        }
        if let httpCredentials { accepted.add(Principals.single(httpCredentials)) }
        framework.authenticator = accepted.entries.isEmpty ? nil : Authenticator(accepted)
        let frameworkURL = "\(scheme)://\(server.bind):\(port)"
        if !noLb {
            var lb = try lbConfig.map(LBFiles.load) ?? .local
            // The LB follows with its own principal when there is one, else with the admin's.
            let credentials = secrets.map { "lb:" + $0.lbPassword } ?? httpCredentials
            lb.frameworks = [credentials.map { URLCredentials.embed($0, in: frameworkURL) } ?? frameworkURL]
            if let lbAdminPort { lb.adminPort = lbAdminPort }
            if let lbHttpPort { lb.httpPort = lbHttpPort }
            if let secrets {
                lb.frameworkCA = secrets.ca.caPath
                lb.adminToken = secrets.adminToken
                lb.adminTLSCert = secrets.ca.certificatePath
                lb.adminTLSKey = secrets.ca.keyPath
            }
            services.append(LBService(config: lb))
            framework.consoleLoadBalancers = ["\(scheme)://\(server.bind):\(lb.adminPort)"]
        }
        services.append(FrameworkService(config: framework, store: try Runner.openStore(nil, stateDir: server.stateDir)))
        let secured = secrets.map { " (CA \($0.ca.caPath), admin token in \($0.tokenPath); the CLI reads both from --state-dir)" }
        Logger(label: "pacer").info(
            "pacer up: master :\(masterPort), \(agents) agent(s) from :\(agentPort), framework API \(frameworkURL)\(secured ?? "")"
        )
        try await Runner.run(services)
    }
}

/// What `pacer up --secure` runs with: its CA's certificate for every part, the admin token
/// (kept, so clients keep working across restarts), and secrets between its own parts (made
/// anew each start: they never leave this process).
struct UpSecrets {
    let ca: LocalCA
    let tls: ServerTLS
    let adminToken: String
    let tokenPath: String
    let agentSecret = Principals.newToken().token
    let frameworkCredentials = "pacer-up:" + Principals.newToken().token
    let lbPassword = Principals.newToken().token

    init(stateDir: String, bind: String) throws {
        ca = LocalCA(directory: stateDir + "/tls")
        let hosts = ["localhost", "127.0.0.1"]
        do {
            try ca.ensure(hosts: hosts.contains(bind) ? hosts : [bind] + hosts)
            tokenPath = stateDir + "/admin-token"
            adminToken = try LocalCA.secret(at: tokenPath) { Principals.newToken().token }
            // Every part's clients trust the CA and can show the certificate to a peer that asks.
            try ClientTLS.configure(ca: ca.caPath, certificate: ca.certificatePath, key: ca.keyPath)
            tls = try ServerTLS(certificate: ca.certificatePath, key: ca.keyPath, clientCA: nil)
        } catch { throw ValidationError("--secure: \(error)") }
        TLSReloadSignal.install([tls], logger: Logger(label: "pacer"))
    }

    var principals: [Principals.Entry] {
        [
            Principals.secret(.admin("admin"), adminToken),
            Principals.secret(Principal(name: "lb", role: .loadbalancer), lbPassword)
        ]
    }
}

enum Runner {
    /// The framework API's principals: the file's, plus the admin of `--http-credentials`; nil
    /// (no authentication) when neither is given.
    static func authenticator(principals: String?, credentials: String?) throws -> Authenticator? {
        guard principals != nil || credentials != nil else { return nil }
        var all = Principals(entries: [])
        if let principals {
            do { all = try Principals.load(principals) } catch { throw ValidationError("--principals: \(error)") }
        }
        if let credentials { all.add(Principals.single(credentials)) }
        return Authenticator(all)
    }

    static func run(_ services: [any Service]) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: Logger(label: "pacer.lifecycle")))
        try await group.run()
    }

    static func urls(_ list: String) -> [String] {
        list.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
    }

    static func openStore(_ spec: String?, stateDir: String) throws -> any StateStore {
        let spec = spec ?? "sqlite:\(stateDir)/framework.sqlite"
        if spec.hasPrefix("sqlite:") {
            let path = String(spec.dropFirst("sqlite:".count))
            try FileManager.default.createDirectory(
                atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
            return try SQLiteStore(path: path)
        }
        if spec.hasPrefix("etcd://") || spec.hasPrefix("etcds://") {
            let (endpoints, namespace) = try EtcdStore.endpoints(fromURL: spec)
            return EtcdStore(endpoints: endpoints, namespace: namespace)
        }
        throw ValidationError("unsupported store '\(spec)': use sqlite:PATH or etcd://host:port[,host:port…][/namespace]")
    }

    fileprivate static func agentConfig(
        server: ServerOptions, port: Int, master: String, hostname: String, cpus: Double?, mem: Double?,
        disk: Double?, ports: String?, attributes: String?
    ) throws -> AgentConfig {
        var config = AgentConfig()
        config.host = server.bind
        config.port = port
        config.hostname = hostname
        config.masterURLs = urls(master)
        config.workDir = "\(server.stateDir)/agent-\(port)"
        if let cpus { config.resources.cpus = cpus }
        if let mem { config.resources.mem = mem }
        if let disk { config.resources.disk = disk }
        if let ports {
            guard let ranges = PortRange.parseList(ports) else {
                throw ValidationError("--ports: expected ranges like 31000-32000,33000-33100")
            }
            config.resources.ports = ranges
        }
        for pair in (attributes ?? "").split(separator: ";") {
            let kv = pair.split(separator: ":", maxSplits: 1)
            guard kv.count == 2 else { throw ValidationError("--attributes: expected name:value;name:value") }
            config.attributes[String(kv[0])] = String(kv[1])
        }
        return config
    }
}
