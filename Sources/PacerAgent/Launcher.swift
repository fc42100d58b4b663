import CPacerSys
import Foundation
import PacerAgentCore
import PacerModel

#if canImport(Glibc)
import Glibc
#endif

/// Starts a task's process: in its own cgroup (limits from the task, joined before exec), as its
/// user (supplementary groups cleared), under a keeper that records how it ended (the pid the agent
/// watches and signals; task and keeper share a process group), in its sandbox directory holding
/// `stdout` and `stderr`, stdin from /dev/null, no inherited descriptors, and a clean environment —
/// never the agent's own.
public struct Launcher: Sendable {
    public let sandboxRoot: String
    public let isolation: IsolationSettings
    /// nil with `--isolation none`.
    public let cgroups: Cgroups?
    public static let systemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Where each task's keeper writes how the task ended: the agent's, not the sandbox (the task
    /// owns its sandbox and could plant a symlink there for a root process to write through).
    public let statusRoot: String
    /// The agent's heartbeat: a file whose mtime the agent renews every tick. A keeper that sees it
    /// stale for `recoveryTimeout` seconds (the agent is gone for good) stops its task.
    public var heartbeatFile: String { statusRoot + "/agent.alive" }
    public let recoveryTimeout: Int

    public init(
        sandboxRoot: String, statusRoot: String? = nil, isolation: IsolationSettings = IsolationSettings(),
        cgroups: Cgroups? = nil,
        recoveryTimeout: Int = 0
    ) {
        self.sandboxRoot = sandboxRoot
        self.isolation = isolation
        self.cgroups = cgroups
        self.statusRoot = statusRoot ?? URL(fileURLWithPath: sandboxRoot).deletingLastPathComponent().path + "/exits"
        self.recoveryTimeout = recoveryTimeout
    }

    /// Renews the heartbeat (creating it the first time).
    public func beat() {
        if utimes(heartbeatFile, nil) != 0 {
            try? FileManager.default.createDirectory(atPath: statusRoot, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: heartbeatFile, contents: nil)
        }
    }

    public func sandbox(for taskId: String) -> String { sandboxRoot + "/" + taskId }
    private func statusFile(for taskId: String) -> String { statusRoot + "/" + taskId }

    /// How the task ended, as its keeper recorded it; nil while it runs or when nothing was written.
    public func recordedExit(_ taskId: String) -> ExitStatus? { recorded(taskId)?.status }

    /// The record, and whether the keeper stopped the task itself because the agent stayed away.
    public func recorded(_ taskId: String) -> (status: ExitStatus, orphaned: Bool)? {
        guard let text = try? String(contentsOfFile: statusFile(for: taskId), encoding: .utf8) else { return nil }
        let parts = text.split(whereSeparator: \.isWhitespace)
        guard parts.count >= 2, let value = Int32(parts[1]) else { return nil }
        let orphaned = parts.count == 3 && parts[2] == "orphaned"
        switch parts[0] {
        case "exited": return (.exited(value), orphaned)
        case "signaled": return (.signaled(value), orphaned)
        default: return nil
        }
    }

    /// Task ids become directory names: only a safe alphabet, never `.` or `..`.
    private static func isSafeName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 255 && s != "." && s != ".."
            && s.utf8.allSatisfy {
                ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 46 || $0 == 95
            }
    }

    public func spawn(_ task: TaskInfo) -> Result<Int32, SpawnError> {
        guard Self.isSafeName(task.taskId) else { return .failure(SpawnError("task id '\(task.taskId)' is not a safe name")) }
        let user: TaskUser
        let switchTo: Bool
        switch isolation.user(for: task) {
        case .failure(let e): return .failure(e)
        case .success(let u): (user, switchTo) = u
        }
        if let busy = task.resources.portList.first(where: { !Self.portIsFree($0) }) {
            return .failure(SpawnError("port \(busy) is already in use on this agent by a process the agent did not start"))
        }
        let dir = sandbox(for: task.taskId)
        do {
            try FileManager.default.createDirectory(atPath: dir + "/tmp", withIntermediateDirectories: true)
            // The task owns its sandbox; /tmp in it is the task's private /tmp (sticky, like the real one).
            for d in [dir, dir + "/tmp"] where chown(d, user.uid, user.gid) != 0 {
                return .failure(
                    SpawnError("cannot give sandbox \(d) to user '\(user.name)': \(String(cString: strerror(errno)))"))
            }
            chmod(dir + "/tmp", 0o1777)
        } catch {
            return .failure(SpawnError("cannot create sandbox \(dir): \(error)"))
        }
        var env = [
            "PATH": Self.systemPath, "HOME": FileManager.default.fileExists(atPath: user.home) ? user.home : dir,
            "USER": user.name, "LOGNAME": user.name,
            "MESOS_SANDBOX": dir, "PACER_SANDBOX": dir, "LANG": "C.UTF-8"
        ]
        env.merge(task.command.environment) { _, task in task }
        let argv: [String]
        if task.command.shell {
            argv = ["/bin/sh", "-c", task.command.value ?? ""]
        } else {
            guard var args = task.command.arguments, let first = args.first else {
                return .failure(SpawnError("no arguments to exec"))
            }
            guard let path = Self.resolve(first, path: env["PATH"] ?? Self.systemPath) else {
                return .failure(SpawnError("'\(first)' not found on PATH \(env["PATH"] ?? "")"))
            }
            args[0] = path
            argv = args
        }
        var procs: [String] = []
        if let cgroups {
            do { procs = try cgroups.create(task.taskId, isolation.limits(for: task, batch: task.revocable == true)) } catch {
                return .failure(SpawnError("\(error)"))
            }
        }
        do { try FileManager.default.createDirectory(atPath: statusRoot, withIntermediateDirectories: true) } catch {
            return .failure(SpawnError("cannot create \(statusRoot): \(error)"))
        }
        let result = Self.spawnProcess(
            argv, env: env.map { "\($0.key)=\($0.value)" }.sorted(), directory: dir,
            cgroupProcs: procs, user: switchTo ? user : nil,
            pidNamespace: isolation.pidNamespace, privateTmp: isolation.privateTmp ? dir + "/tmp" : nil,
            statusFile: statusFile(for: task.taskId), heartbeat: heartbeatFile, recoveryTimeout: recoveryTimeout)
        if case .failure = result { cgroups?.remove(task.taskId) }
        return result
    }

    /// A command in a running task's context (a command health check): same user, same cgroup
    /// (it counts against the task's limits), same sandbox; output to `<output>.stdout`/`.stderr`.
    public func spawnInTask(_ task: TaskInfo, _ argv: [String], env: [String: String], output: String) -> Result<
        Int32, SpawnError
    > {
        let dir = sandbox(for: task.taskId)
        let user: TaskUser?
        switch isolation.user(for: task) {
        case .failure(let e): return .failure(e)
        case .success(let u): user = u.switchTo ? u.0 : nil
        }
        let procs = cgroups.map { groups in groups.bases.values.sorted().map { $0 + "/" + task.taskId + "/cgroup.procs" } } ?? []
        return Self.spawnProcess(
            argv, env: env.map { "\($0.key)=\($0.value)" }.sorted(), directory: dir, output: output,
            cgroupProcs: procs, user: user, pidNamespace: false, privateTmp: nil)
    }

    /// Kills everything the task left behind: its process group, and with cgroups every process in
    /// its group wherever it went (a double fork leaves the process group, never the cgroup).
    public func killEverything(_ taskId: String, pid: Int32?) {
        if let pid { Self.signalGroup(pid, SIGKILL) }
        cgroups?.killAll(taskId)
    }

    /// After the task ended: whether the kernel OOM-killed in it, then its cgroup is gone.
    public func cleanUp(_ taskId: String) -> (oomKilled: Bool, usage: CgroupUsage?) {
        unlink(statusFile(for: taskId))
        guard let cgroups else { return (false, nil) }
        let usage = cgroups.usage(taskId)
        cgroups.killAll(taskId)
        cgroups.remove(taskId)
        return ((usage?.oomKills ?? 0) > 0, usage)
    }

    static func resolve(_ name: String, path: String) -> String? {
        if name.contains("/") { return name }
        for dir in path.split(separator: ":") where access("\(dir)/\(name)", X_OK) == 0 { return "\(dir)/\(name)" }
        return nil
    }

    /// Whether a listener could bind `port` (SO_REUSEADDR, as servers set it: TIME_WAIT is not "in use").
    private static func portIsFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr = in_addr(s_addr: 0)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    static let steps = [
        PACER_STEP_FORK: "fork", PACER_STEP_CGROUP: "join its cgroup", PACER_STEP_MOUNT: "set up its mount namespace",
        PACER_STEP_SETPGID: "setpgid", PACER_STEP_FDS: "set up stdin/stdout/stderr", PACER_STEP_CHDIR: "enter its sandbox",
        PACER_STEP_SETGROUPS: "clear supplementary groups", PACER_STEP_SETGID: "setgid", PACER_STEP_SETUID: "setuid",
        PACER_STEP_EXEC: "exec"
    ]

    /// `output` names the files stdout and stderr are appended to (`stdout`/`stderr`, or `health.stdout`…).
    private static func spawnProcess(
        _ argv: [String], env: [String], directory: String, output: String? = nil, cgroupProcs: [String] = [],
        user: TaskUser? = nil, pidNamespace: Bool = false, privateTmp: String? = nil,
        statusFile: String? = nil, heartbeat: String? = nil, recoveryTimeout: Int = 0
    ) -> Result<Int32, SpawnError> {
        let prefix = output.map { directory + "/" + $0 + "." } ?? directory + "/"
        let status = statusFile.map { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600) } ?? -1
        // Without a heartbeat file yet (a launcher used on its own), the keeper simply never gives up.
        let alive = heartbeat.map { open($0, O_RDONLY | O_CLOEXEC) } ?? -1
        defer { for fd in [status, alive] where fd >= 0 { close(fd) } }
        if let statusFile, status < 0 {
            return .failure(SpawnError("cannot open \(statusFile): \(String(cString: strerror(errno)))"))
        }
        let stdin = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let stdout = open(prefix + "stdout", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        let stderr = open(prefix + "stderr", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        defer { for fd in [stdin, stdout, stderr] where fd >= 0 { close(fd) } }
        guard stdin >= 0, stdout >= 0, stderr >= 0 else {
            return .failure(SpawnError("cannot open \(prefix)stdout/stderr: \(String(cString: strerror(errno)))"))
        }
        if let user {
            fchown(stdout, user.uid, user.gid)
            fchown(stderr, user.uid, user.gid)
        }
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup($0) } + [nil]
        let cProcs = cgroupProcs.map { strdup($0) } + [nil]
        let cDir = strdup(directory)
        let cTmp = privateTmp.map { strdup($0) } ?? nil
        defer { for p in cArgs + cEnv + cProcs + [cDir, cTmp] { free(p) } }
        var failedStep: Int32 = 0
        var err: Int32 = 0
        // The spec holds pointers into these arrays: they must stay valid until the spawn returns,
        // so each is borrowed for the whole call (an implicit array-to-pointer conversion would
        // dangle once the spec is built).
        let procPointers = cProcs.map { UnsafePointer($0) }
        let pid: pid_t = cArgs.withUnsafeBufferPointer { args in
            cEnv.withUnsafeBufferPointer { envp in
                procPointers.withUnsafeBufferPointer { procs in
                    var spec = pacer_task_spawn(
                        path: cArgs[0], argv: args.baseAddress, envp: envp.baseAddress, directory: cDir,
                        stdin_fd: stdin, stdout_fd: stdout, stderr_fd: stderr, cgroup_procs: procs.baseAddress,
                        switch_user: user == nil ? 0 : 1, uid: user?.uid ?? 0, gid: user?.gid ?? 0,
                        new_pid_ns: pidNamespace ? 1 : 0, private_tmp: cTmp, status_fd: status,
                        alive_fd: alive, recovery_timeout: Int32(recoveryTimeout))
                    return pacer_spawn_task(&spec, &failedStep, &err)
                }
            }
        }
        guard pid > 0 else {
            let step = steps[Int(failedStep)] ?? "start"
            return .failure(
                SpawnError(
                    "cannot \(step) for \(argv[0])\(user.map { " as user '\($0.name)'" } ?? ""): \(String(cString: strerror(err)))"
                ))
        }
        return .success(pid)
    }

    /// Signals the task's whole process group.
    public static func signalGroup(_ pid: Int32, _ signal: Int32) {
        if kill(-pid, signal) != 0 { kill(pid, signal) }
    }

    public static func isAlive(_ pid: Int32) -> Bool { kill(pid, 0) == 0 || errno == EPERM }
}
