import Foundation
import PacerAgentCore
import PacerModel

#if canImport(Glibc)
import Glibc
#endif

/// How the agent confines tasks (`--isolation`, Mesos style): `cgroups` (the default) with optional
/// `namespaces/pid` and `filesystem/tmp`, or `none`, which must be asked for explicitly.
public struct IsolationSettings: Sendable, Equatable {
    public var cgroups = true
    /// Each task in its own pid namespace (it sees only its own processes, under a small init).
    public var pidNamespace = false
    /// Each task in its own mount namespace with a private `/tmp` (a directory in its sandbox).
    public var privateTmp = false
    /// Tasks whose app names no `user` run as this one.
    public var taskUser = "nobody"
    /// Tasks may run as root only when the operator says so.
    public var allowRoot = false
    /// Users an app may name besides `taskUser`, per role (`*`: for every role). Anyone else is
    /// refused: an app must not pick any account on the machine.
    public var allowedUsers: [String: Set<String>] = [:]
    /// Processes (threads included) one task may have: a fork bomb stops there.
    public var pidsMax = 4096

    public init() {}

    public static func parse(_ text: String) throws -> IsolationSettings {
        var s = IsolationSettings()
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if parts == ["none"] {
            s.cgroups = false
            return s
        }
        for p in parts {
            switch p {
            case "cgroups", "cgroups/cpu", "cgroups/mem": s.cgroups = true
            case "namespaces/pid": s.pidNamespace = true
            case "filesystem/tmp": s.privateTmp = true
            default:
                throw IsolationError(
                    "unknown isolator '\(p)' in --isolation \(text); "
                        + "use 'none', or 'cgroups' plus optional 'namespaces/pid', 'filesystem/tmp'")
            }
        }
        return s
    }

    /// The cgroup limits for a task: weight from `cpus`, CFS quota from `resourceLimits.cpus` when
    /// larger (or none when "unlimited"), memory from `resourceLimits.mem` likewise.
    public func limits(for task: TaskInfo, batch: Bool = false) -> CgroupLimits {
        let cpus = task.resources.cpus
        let cpuCap = task.cpuLimit
        let memCap = task.memoryLimitMiB
        // Best-effort work yields the cores to services whenever they want them.
        let shares = batch ? 2 : max(2, Int((cpus * 1024).rounded()))
        return CgroupLimits(
            shares: shares, quotaMicros: cpuCap.map { max(1_000, Int(($0 * 100_000).rounded())) },
            memoryBytes: memCap.map { Int($0 * 1_048_576) }, pidsMax: pidsMax)
    }
}

/// The account a task runs as.
public struct TaskUser: Sendable, Equatable {
    public var name: String
    public var uid: uid_t
    public var gid: gid_t
    public var home: String

    public static func lookup(_ name: String) -> TaskUser? {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        guard getpwnam_r(name, &pwd, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return TaskUser(name: name, uid: pwd.pw_uid, gid: pwd.pw_gid, home: String(cString: pwd.pw_dir))
    }

    public static var current: TaskUser {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        let uid = geteuid()
        if getpwuid_r(uid, &pwd, &buffer, buffer.count, &result) == 0, result != nil {
            return TaskUser(name: String(cString: pwd.pw_name), uid: uid, gid: getegid(), home: String(cString: pwd.pw_dir))
        }
        return TaskUser(name: "\(uid)", uid: uid, gid: getegid(), home: "/")
    }
}

extension IsolationSettings {
    /// Who runs `task`: the app's `user`, else the agent's task user. An agent that is not root
    /// cannot switch users, so it runs tasks as itself and refuses a task that names someone else.
    func user(for task: TaskInfo) -> Result<(TaskUser, switchTo: Bool), SpawnError> {
        let me = TaskUser.current
        guard me.uid == 0 else {
            if let wanted = task.command.user, wanted != me.name {
                return .failure(
                    SpawnError("the agent runs as '\(me.name)', not root, and cannot run the task as user '\(wanted)'"))
            }
            return .success((me, false))
        }
        let name = task.command.user ?? taskUser
        guard let user = TaskUser.lookup(name) else {
            return .failure(SpawnError("user '\(name)' does not exist on this agent"))
        }
        if user.uid == 0 && !allowRoot {
            return .failure(SpawnError("tasks may not run as root on this agent (start it with --allow-root-tasks to permit it)"))
        }
        let role = task.role ?? Role.any
        if user.uid != 0, name != taskUser, !(allowedUsers[role] ?? []).union(allowedUsers[Role.any] ?? []).contains(name) {
            return .failure(
                SpawnError(
                    "user '\(name)' is not allowed for role '\(role)' on this agent (--task-users '\(role)=\(name)' permits it)"))
        }
        return .success((user, true))
    }
}
