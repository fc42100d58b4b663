import Foundation
import PacerAgent
import PacerAgentCore
import PacerModel
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Real processes in real cgroups: the limits the agent sets are measured from the kernel's own
/// accounting. Needs root (cgroups, setuid), as an agent does.
final class IsolationTests: XCTestCase {
    var dir = ""
    var launcher: Launcher!
    var started: [(String, Int32)] = []
    var launchers: [Launcher] = []

    override func setUp() async throws {
        try XCTSkipUnless(geteuid() == 0, "isolation needs root, as the agent does")
        dir = NSTemporaryDirectory() + "pacer-iso-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        launcher = try makeLauncher(IsolationSettings())
    }

    override func tearDown() async throws {
        for (id, pid) in started {
            launcher?.killEverything(id, pid: pid)
            _ = launcher?.cleanUp(id)
        }
        for l in launchers { l.cgroups?.removeAgentGroup() }
        try? FileManager.default.removeItem(atPath: dir)
    }

    func makeLauncher(_ settings: IsolationSettings) throws -> Launcher {
        let groups = try Cgroups.detect(agentName: "test-" + UUID().uuidString.prefix(8).lowercased())
        let l = Launcher(sandboxRoot: dir + "/sandboxes", isolation: settings, cgroups: groups)
        launchers.append(l)
        return l
    }

    func task(
        _ cmd: String, cpus: Double = 0.5, mem: Double = 64, limits: ResourceLimits? = nil, user: String? = nil,
        ports: [Int] = []
    ) -> TaskInfo {
        let id = "t-" + UUID().uuidString.prefix(8).lowercased()
        return TaskInfo(
            taskId: id, name: "/iso", agentId: "a",
            resources: Resources(cpus: cpus, mem: mem, disk: 0, ports: PortRange.ranges(of: ports)),
            command: CommandInfo(shell: true, value: cmd, arguments: nil, environment: ["APP_VAR": "1"], user: user),
            resourceLimits: limits)
    }

    func start(_ t: TaskInfo, with l: Launcher? = nil) throws -> (pid: Int32, exit: Task<ExitStatus, Never>) {
        let pid = try (l ?? launcher).spawn(t).get()
        started.append((t.taskId, pid))
        return (pid, Self.exitTask(pid))
    }

    /// waitpid on this one child from its own thread. Not the agent's ProcessReaper: its
    /// waitpid(-1) would also reap other tests' children in this shared test process.
    static func exitTask(_ pid: Int32) -> Task<ExitStatus, Never> {
        Task.detached {
            await withCheckedContinuation { (c: CheckedContinuation<ExitStatus, Never>) in
                DispatchQueue.global().async {
                    var status: Int32 = 0
                    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                    c.resume(returning: (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f))
                }
            }
        }
    }

    func output(_ t: TaskInfo) -> String {
        (try? String(contentsOfFile: launcher.sandbox(for: t.taskId) + "/stdout", encoding: .utf8)) ?? ""
    }

    func testCPUQuotaCapsABusyLoopAndResourceLimitsRaiseIt() async throws {
        let capped = task("while :; do :; done", cpus: 0.5)
        let raised = task("while :; do :; done", cpus: 0.5, limits: ResourceLimits(cpus: .limited(1), mem: nil))
        _ = try start(capped)
        _ = try start(raised)
        let groups = try XCTUnwrap(launcher.cgroups)
        try await Task.sleep(for: .milliseconds(500))
        let before = (groups.usage(capped.taskId)!.cpuTotalSeconds, groups.usage(raised.taskId)!.cpuTotalSeconds, Date())
        try await Task.sleep(for: .seconds(10))
        let a = groups.usage(capped.taskId)!
        let b = groups.usage(raised.taskId)!
        let wall = Date().timeIntervalSince(before.2)
        let cappedRate = (a.cpuTotalSeconds - before.0) / wall
        let raisedRate = (b.cpuTotalSeconds - before.1) / wall
        print(
            "cpus 0.5: \(cappedRate) cores, throttled \(a.throttledPeriods)/\(a.periods); resourceLimits.cpus 1: \(raisedRate) cores"
        )
        // What the kernel enforces, exactly; then the one measurement other load cannot make pass
        // or fail by accident: a capped busy loop never gets more than its cap. (How close each
        // loop comes to its cap depends on what else runs; that is printed, not asserted.)
        XCTAssertEqual(groups.cpuLimit(capped.taskId), "50000 100000")
        XCTAssertEqual(groups.cpuLimit(raised.taskId), "100000 100000")
        XCTAssertLessThanOrEqual(cappedRate, 0.55)
        XCTAssertLessThanOrEqual(raisedRate, 1.05)
    }

    func testMemoryLimitOOMKillsAndIsReported() async throws {
        let t = task("exec python3 -c 'import time; a = bytearray(200 * 1024 * 1024); time.sleep(30)'", mem: 64)
        let (_, exit) = try start(t)
        let status = await exit.value
        XCTAssertEqual(status, .signaled(9))
        XCTAssertTrue(launcher.cleanUp(t.taskId).oomKilled)
        // And the agent's core turns that into a TASK_FAILED that says so.
        var core = AgentCore(agentId: "a", idPrefix: "p")
        _ = core.onLaunch(frameworkId: "f", [t], now: 0)
        _ = core.onSpawned([(t.taskId, .success(1))], now: 0)
        _ = core.onExited(taskId: t.taskId, status, oomKilled: true, now: 1)
        let last = try XCTUnwrap(core.state.pending[t.taskId]?.last?.status)
        XCTAssertEqual(last.state, .failed)
        XCTAssertEqual(last.reason, "REASON_CONTAINER_LIMITATION_MEMORY")
        XCTAssertTrue(
            last.message?.contains("Memory limit exceeded") == true && last.message?.contains("64 MiB") == true,
            last.message ?? "")
    }

    func testTasksRunAsTheirUserWithACleanEnvironment() async throws {
        setenv("PACER_AGENT_SECRET", "do-not-leak", 1)
        defer { unsetenv("PACER_AGENT_SECRET") }
        let nobody = try XCTUnwrap(TaskUser.lookup("nobody"))
        let t = task("id -u; id -g; id -G; env | sort")
        let (_, exit) = try start(t)
        let status_exit = await exit.value
        XCTAssertEqual(status_exit, .exited(0))
        let lines = output(t).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[0], "\(nobody.uid)")
        XCTAssertEqual(lines[1], "\(nobody.gid)")
        XCTAssertEqual(lines[2], "\(nobody.gid)", "supplementary groups are cleared")
        let env = Set(lines.dropFirst(3).compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) })
        XCTAssertFalse(env.contains("PACER_AGENT_SECRET"))
        XCTAssertTrue(lines.contains("PATH=\(Launcher.systemPath)"))
        XCTAssertTrue(lines.contains("USER=nobody"))
        XCTAssertTrue(lines.contains("APP_VAR=1"))
        XCTAssertTrue(
            env.isSubset(of: [
                "PATH", "HOME", "USER", "LOGNAME", "MESOS_SANDBOX", "PACER_SANDBOX", "LANG", "APP_VAR", "PWD", "SHLVL", "_"
            ]),
            "unexpected variables: \(env)")
    }

    func testRootIsRefusedUnlessAllowed() async throws {
        let t = task("id -u", user: "root")
        guard case .failure(let e) = launcher.spawn(t) else { return XCTFail("a task ran as root") }
        XCTAssertTrue(e.message.contains("--allow-root-tasks"), e.message)
        guard case .failure(let missing) = launcher.spawn(task("true", user: "no-such-user-x")) else {
            return XCTFail("unknown user ran")
        }
        XCTAssertTrue(missing.message.contains("does not exist"), missing.message)
        var allowing = IsolationSettings()
        allowing.allowRoot = true
        let rootLauncher = try makeLauncher(allowing)
        let (_, exit) = try start(t, with: rootLauncher)
        let status_exit = await exit.value
        XCTAssertEqual(status_exit, .exited(0))
        XCTAssertEqual(output(t).trimmingCharacters(in: .whitespacesAndNewlines), "0")
    }

    /// An app may name only the agent's task user, or users the operator allowed for its role.
    func testOtherUsersAreRefusedUnlessAllowedForTheRole() async throws {
        guard case .failure(let refused) = launcher.spawn(task("id -un", user: "daemon")) else {
            return XCTFail("a task ran as a user nobody allowed")
        }
        XCTAssertTrue(refused.message.contains("--task-users '*=daemon'"), refused.message)
        var allowing = IsolationSettings()
        allowing.allowedUsers = ["*": ["daemon"]]
        let t = task("id -un", user: "daemon")
        let (_, exit) = try start(t, with: try makeLauncher(allowing))
        let status = await exit.value
        XCTAssertEqual(status, .exited(0))
        XCTAssertEqual(output(t).trimmingCharacters(in: .whitespacesAndNewlines), "daemon")
        var otherRole = IsolationSettings()
        otherRole.allowedUsers = ["batch": ["daemon"]]
        guard case .failure = try makeLauncher(otherRole).spawn(task("true", user: "daemon")) else {
            return XCTFail("a user allowed for another role ran")
        }
    }

    func testATaskWhosePortIsTakenFailsClearly() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr = in_addr(s_addr: inet_addr("127.0.0.1"))
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        listen(fd, 1)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        guard case .failure(let e) = launcher.spawn(task("sleep 10", ports: [port])) else {
            return XCTFail("launched on a busy port")
        }
        XCTAssertTrue(e.message.contains("port \(port) is already in use"), e.message)
    }

    func testKillingATaskKillsEverythingInItsCgroup() async throws {
        // setsid leaves the process group: only the cgroup still knows the grandchild.
        let t = task("setsid sleep 1000 & echo $!; sleep 1000")
        let (pid, exit) = try start(t)
        var escaped: Int32 = 0
        for _ in 0..<100 where escaped == 0 {
            escaped = Int32(output(t).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertGreaterThan(escaped, 0)
        XCTAssertEqual(try XCTUnwrap(launcher.cgroups).processes(t.taskId).count, 4, "keeper, shell, sleep, escaped sleep")
        launcher.killEverything(t.taskId, pid: pid)
        _ = await exit.value
        try await Task.sleep(for: .milliseconds(100))
        // Gone, or a zombie waiting for whoever inherited it (no reaper runs in this test process).
        let state = (try? String(contentsOfFile: "/proc/\(escaped)/stat", encoding: .utf8))?.split(separator: " ").dropFirst(2)
            .first
        XCTAssertTrue(state == nil || state == "Z", "the escaped grandchild survived (state \(state ?? "-"))")
        XCTAssertEqual(launcher.cgroups?.processes(t.taskId), [])
    }

    func testPidNamespaceAndPrivateTmp() async throws {
        var settings = IsolationSettings()
        settings.pidNamespace = true
        settings.privateTmp = true
        let isolated = try makeLauncher(settings)
        let marker = "pacer-marker-\(UUID().uuidString.prefix(6))"
        let t = task("echo $$; ls /proc | grep -c '^[0-9]'; touch /tmp/\(marker)")
        let (_, exit) = try start(t, with: isolated)
        let status_exit = await exit.value
        XCTAssertEqual(status_exit, .exited(0))
        let lines = output(t).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "2", "the task is pid 2 under its init")
        XCTAssertLessThanOrEqual(Int(lines.dropFirst().first ?? "") ?? 99, 4, "only the namespace's processes are visible")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/" + marker))
        XCTAssertTrue(FileManager.default.fileExists(atPath: isolated.sandbox(for: t.taskId) + "/tmp/" + marker))

        // SIGTERM reaches the task through its init (a bare pid 1 would ignore it).
        let trapper = task("trap 'exit 7' TERM; while :; do sleep 0.1; done")
        let (pid, trapped) = try start(trapper, with: isolated)
        try await Task.sleep(for: .milliseconds(300))
        Launcher.signalGroup(pid, SIGTERM)
        let status_trapped = await trapped.value
        XCTAssertEqual(status_trapped, .exited(7))
        XCTAssertEqual(isolated.recordedExit(trapper.taskId), .exited(7))

        // pid 1 cannot die of a signal: its exit code says 128+9, its record says what happened.
        let victim = task("kill -9 $$")
        let (_, victimExit) = try start(victim, with: isolated)
        let keeperStatus = await victimExit.value
        XCTAssertEqual(keeperStatus, .exited(137))
        XCTAssertEqual(isolated.recordedExit(victim.taskId), .signaled(9))
    }

    /// The keeper records how the task ended and ends the same way; it runs as the task's user.
    func testTheKeeperRecordsTheExitAndEndsTheSameWay() async throws {
        let quits = task("sleep 0.5; exit 5")
        let careless = open("/dev/null", O_RDONLY)  // an agent descriptor without CLOEXEC
        defer { close(careless) }
        let (pid, exit) = try start(quits)
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        XCTAssertTrue(status.contains("Uid:\t65534"), "the keeper is not root")
        XCTAssertTrue(status.contains("Name:\tpacer-keeper"), status)
        let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").compactMap { Int($0) }.sorted()
        XCTAssertEqual(fds, [0, 1, 2, 3], "stdio and the status file, nothing of the agent's")
        let quitStatus = await exit.value
        XCTAssertEqual(quitStatus, .exited(5))
        XCTAssertEqual(launcher.recordedExit(quits.taskId), .exited(5))

        let dies = task("kill -SEGV $$")
        let (_, died) = try start(dies)
        let diedStatus = await died.value
        XCTAssertEqual(diedStatus, .signaled(SIGSEGV))
        XCTAssertEqual(launcher.recordedExit(dies.taskId), .signaled(SIGSEGV))
        _ = launcher.cleanUp(dies.taskId)
        XCTAssertNil(launcher.recordedExit(dies.taskId), "the record goes with the task")
    }
}

/// The cgroup v2 layout, checked on a directory standing in for the hierarchy (this machine
/// mounts v1 controllers; the values written are what the kernel would be given).
final class CgroupFilesTests: XCTestCase {
    func testV2FilesAndValues() throws {
        let root = NSTemporaryDirectory() + "pacer-cg2-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try "cpuset cpu io memory pids\n".write(toFile: root + "/cgroup.controllers", atomically: true, encoding: .utf8)
        let groups = try Cgroups.detect(agentName: "a1", mounts: "cgroup2 \(root) cgroup2 rw,nosuid 0 0\n")
        XCTAssertEqual(groups.version, .v2)
        var settings = IsolationSettings()
        settings.pidsMax = 100
        let t = TaskInfo(
            taskId: "t1", name: "/x", agentId: "a", resources: Resources(cpus: 0.5, mem: 64, disk: 0, ports: []),
            command: CommandInfo(shell: true, value: "true", arguments: nil, environment: [:]),
            resourceLimits: ResourceLimits(cpus: .limited(2), mem: .unlimited))
        let procs = try groups.create("t1", settings.limits(for: t))
        let d = root + "/pacer/a1/t1"
        XCTAssertEqual(procs, [d + "/cgroup.procs"])
        func file(_ name: String) -> String {
            ((try? String(contentsOfFile: d + "/" + name, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        XCTAssertEqual(file("cpu.max"), "200000 100000")
        XCTAssertEqual(file("cpu.weight"), "20")
        XCTAssertEqual(file("memory.max"), "max")
        XCTAssertEqual(file("memory.swap.max"), "0")
        XCTAssertEqual(file("pids.max"), "100")
        for level in [root, root + "/pacer", root + "/pacer/a1"] {
            XCTAssertEqual(try String(contentsOfFile: level + "/cgroup.subtree_control", encoding: .utf8), "+cpu +memory +pids")
        }
        // Batch work gets the lowest weight.
        XCTAssertEqual(settings.limits(for: t, batch: true).weight, 1)
    }

    func testNoControllersMeansAClearRefusal() {
        XCTAssertThrowsError(try Cgroups.detect(agentName: "a", mounts: "tmpfs /tmp tmpfs rw 0 0\n")) { error in
            XCTAssertTrue("\(error)".contains("--isolation none"), "\(error)")
        }
        XCTAssertThrowsError(try IsolationSettings.parse("cgroups,namespaces/net"))
        XCTAssertEqual(try IsolationSettings.parse("none").cgroups, false)
    }
}
