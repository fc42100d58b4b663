#if canImport(Glibc)
import Glibc
#endif
import CPacerSys
import Foundation
import PacerAgentCore
import PacerModel

/// Starts a task's process: its own process group (so a kill reaches every descendant that stays
/// in it), its own sandbox directory holding `stdout` and `stderr`, stdin from /dev/null, no
/// inherited descriptors, and a clean environment — never the agent's own.
public struct Launcher: Sendable {
    public let sandboxRoot: String
    public static let systemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    public init(sandboxRoot: String) { self.sandboxRoot = sandboxRoot }

    public func sandbox(for taskId: String) -> String { sandboxRoot + "/" + taskId }

    /// Task ids become directory names: only a safe alphabet, never `.` or `..`.
    static func isSafeName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 255 && s != "." && s != ".."
            && s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 46 || $0 == 95 }
    }

    public func spawn(_ task: TaskInfo) -> Result<Int32, SpawnError> {
        guard Self.isSafeName(task.taskId) else { return .failure(SpawnError("task id '\(task.taskId)' is not a safe name")) }
        let dir = sandbox(for: task.taskId)
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            return .failure(SpawnError("cannot create sandbox \(dir): \(error)"))
        }
        var env = ["PATH": Self.systemPath, "HOME": dir, "MESOS_SANDBOX": dir, "PACER_SANDBOX": dir, "LANG": "C.UTF-8"]
        env.merge(task.command.environment) { _, task in task }
        let argv: [String]
        if task.command.shell {
            argv = ["/bin/sh", "-c", task.command.value ?? ""]
        } else {
            guard var args = task.command.arguments, let first = args.first else { return .failure(SpawnError("no arguments to exec")) }
            guard let path = Self.resolve(first, path: env["PATH"] ?? Self.systemPath) else {
                return .failure(SpawnError("'\(first)' not found on PATH \(env["PATH"] ?? "")"))
            }
            args[0] = path
            argv = args
        }
        return Self.posixSpawn(argv, env: env.map { "\($0.key)=\($0.value)" }.sorted(), directory: dir)
    }

    static func resolve(_ name: String, path: String) -> String? {
        if name.contains("/") { return name }
        for dir in path.split(separator: ":") where access("\(dir)/\(name)", X_OK) == 0 { return "\(dir)/\(name)" }
        return nil
    }

    /// `output` names the files stdout and stderr are appended to (`stdout`/`stderr`, or `health.stdout`…).
    static func posixSpawn(_ argv: [String], env: [String], directory: String, output: String? = nil) -> Result<Int32, SpawnError> {
        var actions = posix_spawn_file_actions_t()
        var attr = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attr)
        defer { posix_spawn_file_actions_destroy(&actions); posix_spawnattr_destroy(&attr) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let prefix = output.map { directory + "/" + $0 + "." } ?? directory + "/"
        posix_spawn_file_actions_addopen(&actions, 1, prefix + "stdout", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, prefix + "stderr", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        pacer_spawn_addclosefrom(&actions, 3)
        pacer_spawn_addchdir(&actions, directory)
        // New process group; default signal dispositions and an empty mask (the agent blocks some).
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }
        let rc = posix_spawn(&pid, argv[0], &actions, &attr, cArgs, cEnv)
        guard rc == 0 else { return .failure(SpawnError("posix_spawn \(argv[0]): \(String(cString: strerror(rc)))")) }
        return .success(pid)
    }

    /// Signals the task's whole process group.
    public static func signalGroup(_ pid: Int32, _ signal: Int32) {
        if kill(-pid, signal) != 0 { kill(pid, signal) }
    }

    public static func isAlive(_ pid: Int32) -> Bool { kill(pid, 0) == 0 || errno == EPERM }
}
