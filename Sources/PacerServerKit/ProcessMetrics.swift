import CPacerSys
import Foundation
import PacerModel
import Synchronization

/// What Prometheus client libraries export about their process, under the names of
/// client_golang's process collector (so dashboards and alerts written for any exporter work),
/// and glibc's own view of the heap. Resident memory alone cannot tell a leak from an allocator
/// that keeps what was freed: over four minutes of churn at 500 agents the master's RSS rose
/// 12 MiB while heaptrack found 0.3 MiB of it still allocated (issue 12). `pacer_heap_in_use_bytes`
/// is the live part; `pacer_heap_free_bytes` is what glibc holds for reuse.
public enum ProcessMetrics {
    /// The fields of `/proc/<pid>/stat` the families need.
    struct Stat: Equatable {
        /// User plus system time, in clock ticks.
        var cpuTicks: Int
        /// When the process started, in clock ticks after boot.
        var startTicks: Int
        var virtualBytes: Int
        var residentPages: Int
    }

    /// The families `text()` writes: a framework follower serves the leader's `/metrics` with these
    /// replaced by its own, or every replica would report the leader's memory and descriptors.
    public static let familyNames: Set<Substring> = [
        "process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
        "process_start_time_seconds", "process_open_fds", "process_max_fds", "pacer_heap_in_use_bytes",
        "pacer_heap_free_bytes", "pacer_http_requests_expired_total"
    ]

    /// `exposition` (another process's `/metrics`) with the process families taken out and this
    /// process's appended: the rest describes the cluster, the process families the one answering.
    public static func withOwnProcessFamilies(_ exposition: String) -> String {
        var kept = exposition.split(separator: "\n", omittingEmptySubsequences: false).filter { line in
            guard let name = metricName(line) else { return true }
            return !familyNames.contains(name)
        }
        if kept.last == "" { kept.removeLast() }
        let head = kept.joined(separator: "\n")
        return (head.isEmpty ? "" : head + "\n") + text()
    }

    /// The metric a line of the text format is about: a sample's name, or the name a `# HELP` or
    /// `# TYPE` line describes; nil for other comments and blank lines.
    static func metricName(_ line: Substring) -> Substring? {
        var rest = line
        if rest.hasPrefix("#") {
            let words = rest.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
            guard words.count >= 3, words[0] == "#", words[1] == "HELP" || words[1] == "TYPE" else { return nil }
            return words[2]
        }
        rest = rest.prefix { $0 != "{" && $0 != " " }
        return rest.isEmpty ? nil : rest
    }

    /// The process's own figures, read now (master, framework, agent and LB `/metrics`); the
    /// heap's at most `heapEvery` old.
    public static func text(heapEvery: Duration = .seconds(5)) -> String {
        var out = PrometheusText()
        guard let stat = (try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8)).flatMap(parse(stat:)) else {
            return ""  // not Linux's /proc: nothing to say rather than zeros that look measured
        }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = sysconf(Int32(_SC_PAGESIZE))
        out.family(
            "process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.",
            [([], "\(Double(stat.cpuTicks) / ticks)")])
        out.family(
            "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
            [([], "\(stat.residentPages * page)")])
        out.family(
            "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", [([], "\(stat.virtualBytes)")])
        if let boot = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)).flatMap(bootTime(procStat:)) {
            out.family(
                "process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds.",
                [([], "\(Double(boot) + Double(stat.startTicks) / ticks)")])
        }
        if let open = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count {
            out.family("process_open_fds", "gauge", "Open file descriptors.", [([], "\(open)")])
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            out.family(
                "process_max_fds", "gauge", "The limit of open file descriptors (soft RLIMIT_NOFILE).",
                [([], "\(limit.rlim_cur)")])
        }
        out.family(
            "pacer_http_requests_expired_total", "counter",
            "Requests answered 504 unprocessed: the caller's Pacer-Timeout-Ms had passed when their turn came.",
            [([], "\(CallerDeadline.expired)")])
        let (inUse, free) = heap(notOlderThan: heapEvery)
        out.family(
            "pacer_heap_in_use_bytes", "gauge",
            "Heap memory allocated and not yet freed (glibc mallinfo2: arenas plus blocks mapped on their own).",
            [([], "\(inUse)")])
        out.family(
            "pacer_heap_free_bytes", "gauge",
            "Heap memory glibc holds free for reuse; resident memory well above in-use plus this is not the heap.",
            [([], "\(free)")])
        return out.text
    }

    /// The last reading of the heap and when it was taken. mallinfo2 walks every free chunk of
    /// every arena: 11 % of an overloaded framework's CPU with `/metrics` read three times a second
    /// (a fragmented heap of 120 MiB free); a scrape every 15 s never notices the cache.
    private static let lastHeap = Mutex<(at: ContinuousClock.Instant, inUse: Int, free: Int)?>(nil)

    private static func heap(notOlderThan age: Duration) -> (inUse: Int, free: Int) {
        lastHeap.withLock { last in
            let now = ContinuousClock.now
            if let last, now - last.at < age { return (last.inUse, last.free) }
            var inUse = 0
            var free = 0
            pacer_heap(&inUse, &free)
            last = (now, inUse, free)
            return (inUse, free)
        }
    }

    /// Parses `/proc/<pid>/stat`. The command (field 2) is in parentheses and may itself hold
    /// spaces and parentheses, so fields are counted from the last ")".
    static func parse(stat: String) -> Stat? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        // Field 3 (the state) is the first after the command; utime is field 14.
        let f = stat[stat.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        guard f.count > 21, let user = Int(f[11]), let system = Int(f[12]), let start = Int(f[19]),
            let virtual = Int(f[20]), let resident = Int(f[21])
        else { return nil }
        return Stat(cpuTicks: user + system, startTicks: start, virtualBytes: virtual, residentPages: resident)
    }

    /// The boot time (`btime`, seconds since the epoch) from `/proc/stat`.
    static func bootTime(procStat: String) -> Int? {
        procStat.split(separator: "\n").first { $0.hasPrefix("btime ") }.flatMap { Int($0.dropFirst(6)) }
    }
}
