import PacerAgentCore
import PacerModel

/// Per-task resource usage as the agent serves it: Mesos's `/monitor/statistics` shape (what
/// existing dashboards read) and Prometheus text for `/metrics`.
enum TaskStatistics {
    struct Entry: Encodable {
        var executor_id: String
        var framework_id: String
        var source: String
        var statistics: Statistics
    }

    struct Statistics: Encodable {
        var timestamp: Double
        var cpus_limit: Double?
        var cpus_user_time_secs: Double?
        var cpus_system_time_secs: Double?
        var cpus_total_time_secs: Double?
        var cpus_nr_periods: Int?
        var cpus_nr_throttled: Int?
        var cpus_throttled_time_secs: Double?
        var mem_limit_bytes: Int?
        var mem_total_bytes: Int?
        var mem_oom_kills: Int?
    }

    static func mesos(_ rows: [(task: AgentTask, usage: CgroupUsage?)], now: Double) -> [Entry] {
        rows.map { t, u in
            Entry(
                executor_id: t.info.taskId, framework_id: t.frameworkId, source: t.info.name,
                statistics: Statistics(
                    timestamp: now, cpus_limit: t.info.cpuLimit, cpus_user_time_secs: u?.cpuUserSeconds,
                    cpus_system_time_secs: u?.cpuSystemSeconds, cpus_total_time_secs: u?.cpuTotalSeconds,
                    cpus_nr_periods: u?.periods, cpus_nr_throttled: u?.throttledPeriods,
                    cpus_throttled_time_secs: u?.throttledSeconds, mem_limit_bytes: u?.memoryLimitBytes,
                    mem_total_bytes: u?.memoryBytes, mem_oom_kills: u?.oomKills))
        }
    }

    static func prometheus(_ rows: [(task: AgentTask, usage: CgroupUsage?)]) -> String {
        let measured = rows.compactMap { row in row.usage.map { (row.task, $0) } }
        func labels(_ t: AgentTask) -> [(String, String)] { [("task", t.info.taskId), ("app", t.info.name)] }
        var out = PrometheusText()
        out.family(
            "pacer_task_cpu_seconds_total", "counter", "CPU time used by the task's cgroup.",
            measured.map { (labels($0.0), "\($0.1.cpuTotalSeconds)") })
        out.family(
            "pacer_task_cpu_limit", "gauge", "CPU cap (CFS quota) in cpus; absent when unlimited.",
            measured.compactMap { t, _ in t.info.cpuLimit.map { (labels(t), "\($0)") } })
        out.family(
            "pacer_task_cpu_periods_total", "counter", "CFS enforcement periods elapsed.",
            measured.map { (labels($0.0), "\($0.1.periods)") })
        out.family(
            "pacer_task_cpu_throttled_periods_total", "counter", "CFS periods in which the task was throttled.",
            measured.map { (labels($0.0), "\($0.1.throttledPeriods)") })
        out.family(
            "pacer_task_cpu_throttled_seconds_total", "counter", "Time the task spent throttled by its CPU cap.",
            measured.map { (labels($0.0), "\($0.1.throttledSeconds)") })
        out.family(
            "pacer_task_memory_bytes", "gauge", "Memory charged to the task's cgroup.",
            measured.map { (labels($0.0), "\($0.1.memoryBytes)") })
        out.family(
            "pacer_task_memory_limit_bytes", "gauge", "Memory limit of the task's cgroup; absent when unlimited.",
            measured.compactMap { t, u in u.memoryLimitBytes.map { (labels(t), "\($0)") } })
        out.family(
            "pacer_task_oom_kills_total", "counter", "Processes of the task killed by the OOM killer.",
            measured.map { (labels($0.0), "\($0.1.oomKills)") })
        out.family("pacer_agent_tasks", "gauge", "Live tasks on this agent.", [([], "\(rows.count)")])
        return out.text
    }
}
