import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a task's cgroup enforces, in kernel units.
public struct CgroupLimits: Sendable, Equatable {
    /// Relative CPU weight while cores are contended: cgroup v1 `cpu.shares` (1024 = one cpu).
    public var shares: Int
    /// Hard CPU cap per period (CFS quota); nil: none.
    public var quotaMicros: Int?
    public var periodMicros = 100_000
    public var memoryBytes: Int?
    public var pidsMax: Int

    public init(shares: Int, quotaMicros: Int?, memoryBytes: Int?, pidsMax: Int) {
        self.shares = shares
        self.quotaMicros = quotaMicros
        self.memoryBytes = memoryBytes
        self.pidsMax = pidsMax
    }

    /// cgroup v2 `cpu.weight` (1–10000) for the same share, by the mapping runc and systemd use.
    public var weight: Int { 1 + ((max(2, min(shares, 262_144)) - 2) * 9_999) / 262_142 }
}

/// A task's measured use of what its cgroup limits.
public struct CgroupUsage: Sendable, Equatable, Codable {
    public var cpuUserSeconds: Double
    public var cpuSystemSeconds: Double
    public var cpuTotalSeconds: Double
    public var periods: Int
    public var throttledPeriods: Int
    public var throttledSeconds: Double
    public var memoryBytes: Int
    public var memoryLimitBytes: Int?
    public var oomKills: Int
}

public struct IsolationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// One cgroup per task under `pacer/<agent>` in each hierarchy the agent uses. v1 (one hierarchy
/// per controller) and v2 (one unified hierarchy) differ only in file names and where they live.
public struct Cgroups: Sendable {
    public enum Version: String, Sendable { case v1, v2 }
    public let version: Version
    /// v1: controller → the agent's directory in that controller's hierarchy; v2: "unified" → it.
    let bases: [String: String]

    static let v1Controllers = ["cpu", "cpuacct", "memory", "pids", "freezer"]

    public init(version: Version, bases: [String: String]) {
        self.version = version
        self.bases = bases
    }

    /// Finds the mounted hierarchies (v2 when it carries the cpu and memory controllers, else v1)
    /// and proves the agent may create groups and set limits there, so a misconfigured machine is
    /// reported at start rather than by the first task.
    public static func detect(agentName: String, mounts: String? = nil) throws -> Cgroups {
        let table = mounts ?? ((try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? "")
        var v1: [String: String] = [:]
        var v2: String?
        for line in table.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count >= 4 else { continue }
            let (path, type, options) = (String(f[1]), f[2], f[3].split(separator: ","))
            if type == "cgroup2" {
                let controllers = (try? String(contentsOfFile: path + "/cgroup.controllers", encoding: .utf8)) ?? ""
                let have = Set(controllers.split(whereSeparator: \.isWhitespace).map(String.init))
                if have.isSuperset(of: ["cpu", "memory"]) { v2 = path }
            } else if type == "cgroup" {
                for c in v1Controllers where options.contains(Substring(c)) { v1[c] = path }
            }
        }
        let groups: Cgroups
        if let v2 {
            groups = Cgroups(version: .v2, bases: ["unified": v2 + "/pacer/" + agentName])
        } else if v1["cpu"] != nil, v1["cpuacct"] != nil, v1["memory"] != nil {
            groups = Cgroups(version: .v1, bases: v1.mapValues { $0 + "/pacer/" + agentName })
        } else {
            throw IsolationError(
                "no cgroup hierarchy with the cpu and memory controllers is mounted; "
                    + "mount cgroup v2 (or v1 cpu, cpuacct, memory), or start the agent with --isolation none")
        }
        try groups.probe()
        return groups
    }

    func probe() throws {
        let id = "probe-\(getpid())"
        defer { remove(id) }
        _ = try create(id, CgroupLimits(shares: 1024, quotaMicros: 100_000, memoryBytes: 64 << 20, pidsMax: 64))
    }

    func dir(_ base: String, _ taskId: String) -> String { base + "/" + taskId }

    /// Creates the task's groups with its limits; returns the `cgroup.procs` files the new process
    /// joins before it execs.
    public func create(_ taskId: String, _ limits: CgroupLimits) throws -> [String] {
        switch version {
        case .v2:
            let base = bases["unified"]!
            // Controllers must be enabled on every level above a group for its files to exist.
            let root = URL(fileURLWithPath: base).deletingLastPathComponent().deletingLastPathComponent().path
            var level = root
            for part in [nil, "pacer", URL(fileURLWithPath: base).lastPathComponent] as [String?] {
                if let part {
                    level += "/" + part
                    try makeDir(level)
                }
                try write(level + "/cgroup.subtree_control", "+cpu +memory +pids")
            }
            let d = dir(base, taskId)
            try makeDir(d)
            try write(d + "/cpu.weight", "\(limits.weight)")
            try write(d + "/cpu.max", "\(limits.quotaMicros.map(String.init) ?? "max") \(limits.periodMicros)")
            try write(d + "/memory.max", limits.memoryBytes.map(String.init) ?? "max")
            // Over the limit means OOM-killed, not swapped: a limit that swaps is no limit.
            try? write(d + "/memory.swap.max", "0")
            try write(d + "/pids.max", "\(limits.pidsMax)")
            return [d + "/cgroup.procs"]
        case .v1:
            var procs: [String] = []
            for (controller, base) in bases.sorted(by: { $0.key < $1.key }) {
                let d = dir(base, taskId)
                try makeDir(URL(fileURLWithPath: base).deletingLastPathComponent().path)
                try makeDir(base)
                try makeDir(d)
                switch controller {
                case "cpu":
                    try write(d + "/cpu.shares", "\(max(2, limits.shares))")
                    try write(d + "/cpu.cfs_period_us", "\(limits.periodMicros)")
                    try write(d + "/cpu.cfs_quota_us", "\(limits.quotaMicros ?? -1)")
                case "memory":
                    try write(d + "/memory.limit_in_bytes", limits.memoryBytes.map(String.init) ?? "-1")
                    try? write(d + "/memory.swappiness", "0")
                case "pids":
                    try write(d + "/pids.max", "\(limits.pidsMax)")
                default: break
                }
                procs.append(d + "/cgroup.procs")
            }
            return procs
        }
    }

    /// Every process of the task, wherever it forked to: frozen first (v1 freezer, v2 cgroup.freeze)
    /// so nothing forks between reading the list and killing it.
    public func killAll(_ taskId: String) {
        let (procs, freeze) =
            version == .v2
            ? (dir(bases["unified"]!, taskId) + "/cgroup.procs", bases["unified"].map { dir($0, taskId) + "/cgroup.freeze" })
            : (
                (bases["cpu"] ?? bases["memory"]!).appending("/\(taskId)/cgroup.procs"),
                bases["freezer"].map { dir($0, taskId) + "/freezer.state" }
            )
        if version == .v2, (try? write(dir(bases["unified"]!, taskId) + "/cgroup.kill", "1")) != nil { return }
        for _ in 0..<50 {
            let pids = read(procs).split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
            if pids.isEmpty { break }
            if let freeze { try? write(freeze, version == .v2 ? "1" : "FROZEN") }
            for pid in pids { kill(pid, SIGKILL) }
            if let freeze { try? write(freeze, version == .v2 ? "0" : "THAWED") }
            usleep(2_000)
        }
    }

    /// The task's processes, for the agent's liveness checks of recovered tasks.
    public func processes(_ taskId: String) -> [Int32] {
        let base = bases["unified"] ?? bases["cpu"] ?? bases["memory"]!
        return read(dir(base, taskId) + "/cgroup.procs").split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
    }

    /// The CPU cap as the kernel holds it: cgroup v2's `cpu.max` ("QUOTA PERIOD" or "max PERIOD"),
    /// v1's quota and period in the same form.
    public func cpuLimit(_ taskId: String) -> String? {
        switch version {
        case .v2:
            return read(dir(bases["unified"]!, taskId) + "/cpu.max").trimmingCharacters(in: .whitespacesAndNewlines)
        case .v1:
            guard let base = bases["cpu"] else { return nil }
            let quota = read(dir(base, taskId) + "/cpu.cfs_quota_us").trimmingCharacters(in: .whitespacesAndNewlines)
            let period = read(dir(base, taskId) + "/cpu.cfs_period_us").trimmingCharacters(in: .whitespacesAndNewlines)
            return "\(quota == "-1" ? "max" : quota) \(period)"
        }
    }

    public func usage(_ taskId: String) -> CgroupUsage? {
        switch version {
        case .v2:
            let d = dir(bases["unified"]!, taskId)
            let cpu = keyed(read(d + "/cpu.stat"))
            guard let total = cpu["usage_usec"] else { return nil }
            return CgroupUsage(
                cpuUserSeconds: Double(cpu["user_usec"] ?? 0) / 1e6, cpuSystemSeconds: Double(cpu["system_usec"] ?? 0) / 1e6,
                cpuTotalSeconds: Double(total) / 1e6, periods: cpu["nr_periods"] ?? 0,
                throttledPeriods: cpu["nr_throttled"] ?? 0, throttledSeconds: Double(cpu["throttled_usec"] ?? 0) / 1e6,
                memoryBytes: Int(read(d + "/memory.current").trimmed) ?? 0,
                memoryLimitBytes: Int(read(d + "/memory.max").trimmed), oomKills: oomKills(taskId))
        case .v1:
            guard let cpuBase = bases["cpu"], let acct = bases["cpuacct"], let mem = bases["memory"],
                let total = Int(read(dir(acct, taskId) + "/cpuacct.usage").trimmed)
            else { return nil }
            let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
            let stat = keyed(read(dir(acct, taskId) + "/cpuacct.stat"))
            let cpu = keyed(read(dir(cpuBase, taskId) + "/cpu.stat"))
            let limit = Int(read(dir(mem, taskId) + "/memory.limit_in_bytes").trimmed)
            return CgroupUsage(
                cpuUserSeconds: Double(stat["user"] ?? 0) / ticks, cpuSystemSeconds: Double(stat["system"] ?? 0) / ticks,
                cpuTotalSeconds: Double(total) / 1e9, periods: cpu["nr_periods"] ?? 0,
                throttledPeriods: cpu["nr_throttled"] ?? 0, throttledSeconds: Double(cpu["throttled_time"] ?? 0) / 1e9,
                memoryBytes: Int(read(dir(mem, taskId) + "/memory.usage_in_bytes").trimmed) ?? 0,
                memoryLimitBytes: limit.flatMap { $0 >= Int.max / 2 ? nil : $0 }, oomKills: oomKills(taskId))
        }
    }

    /// How often the kernel's OOM killer struck inside the task's group.
    public func oomKills(_ taskId: String) -> Int {
        switch version {
        case .v2: return keyed(read(dir(bases["unified"]!, taskId) + "/memory.events"))["oom_kill"] ?? 0
        case .v1: return bases["memory"].flatMap { keyed(read(dir($0, taskId) + "/memory.oom_control"))["oom_kill"] } ?? 0
        }
    }

    /// Removes the task's (empty) groups.
    public func remove(_ taskId: String) {
        for base in bases.values { rmdir(dir(base, taskId)) }
    }

    /// The agent's own directories, once no task group is left in them: a stopped agent leaves no litter
    /// (rmdir refuses while a task that outlives the agent still has its group).
    public func removeAgentGroup() {
        for base in bases.values { rmdir(base) }
    }

    // MARK: files

    private func makeDir(_ path: String) throws {
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw IsolationError(
                "cannot create cgroup \(path): \(String(cString: strerror(errno))); "
                    + "the agent needs write access to the cgroup hierarchy (run it as root), or --isolation none")
        }
    }

    func write(_ path: String, _ value: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw IsolationError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let n = value.withCString { Glibc.write(fd, $0, strlen($0)) }
        guard n >= 0 else { throw IsolationError("cannot write '\(value)' to \(path): \(String(cString: strerror(errno)))") }
    }

    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    /// `key value` lines (cpu.stat, memory.events, oom_control) as a dictionary.
    private func keyed(_ text: String) -> [String: Int] {
        var out: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 2, let v = Int(f[1]) { out[String(f[0])] = v }
        }
        return out
    }
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
