import AsyncHTTPClient
import Foundation
import NIOSSL
import PacerAgentCore
import PacerModel

/// What the agent asks of its health monitor.
enum HealthCommand: Sendable {
    case start(TaskInfo, sandbox: String, startedAt: Instant)
    case stop(taskId: String)
}

/// Runs every task's health checks on the agent that hosts it, so checks spread with the cluster
/// and keep running while the framework fails over. Reports only changes of verdict.
actor HealthMonitor {
    let probe: HealthProbe
    let report: @Sendable (String, [HealthTracker]) async -> Void
    let reportReady: @Sendable (String) async -> Void
    var trackers: [String: [HealthTracker]] = [:]
    /// Bumped whenever a task's checks stop or restart, so stale loops end themselves.
    var generations: [String: Int] = [:]
    let commands: AsyncStream<HealthCommand>
    nonisolated let control: AsyncStream<HealthCommand>.Continuation

    init(
        host: String, launcher: Launcher, report: @escaping @Sendable (String, [HealthTracker]) async -> Void,
        ready: @escaping @Sendable (String) async -> Void
    ) {
        reportReady = ready
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        var insecure = HTTPClient.Configuration(tlsConfiguration: tls)
        insecure.redirectConfiguration = .disallow
        var plain = HTTPClient.Configuration()
        plain.redirectConfiguration = .disallow
        probe = HealthProbe(
            host: host, launcher: launcher, http: HTTPClient(eventLoopGroupProvider: .singleton, configuration: plain),
            https: HTTPClient(eventLoopGroupProvider: .singleton, configuration: insecure))
        self.report = report
        (commands, control) = AsyncStream.makeStream(of: HealthCommand.self)
    }

    func run() async {
        await withDiscardingTaskGroup { group in
            for await command in commands {
                switch command {
                case .start(let task, let sandbox, let startedAt):
                    let generation = (generations[task.taskId] ?? 0) + 1
                    generations[task.taskId] = generation
                    if let readiness = task.readinessChecks, !readiness.isEmpty {
                        group.addTask { await self.readinessLoop(task, readiness, generation) }
                    }
                    guard let checks = task.healthChecks, !checks.isEmpty else { continue }
                    trackers[task.taskId] = checks.map { HealthTracker(check: $0, taskId: task.taskId, startedAt: startedAt) }
                    for (index, check) in checks.enumerated() {
                        group.addTask { await self.loop(task, index, check, sandbox, generation) }
                    }
                case .stop(let taskId):
                    generations[taskId] = (generations[taskId] ?? 0) + 1
                    trackers[taskId] = nil
                }
            }
            group.cancelAll()
        }
        try? await probe.http.shutdown()
        try? await probe.https.shutdown()
    }

    func current(_ taskId: String, _ generation: Int) -> Bool { generations[taskId] == generation && !Task.isCancelled }

    func loop(_ task: TaskInfo, _ index: Int, _ check: TaskHealthCheck, _ sandbox: String, _ generation: Int) async {
        try? await Task.sleep(for: .milliseconds(Int64(check.delaySeconds * 1000)))
        while current(task.taskId, generation) {
            let (ok, cause) = await probe.run(check, task: task, sandbox: sandbox)
            guard current(task.taskId, generation), var list = trackers[task.taskId] else { return }
            let changed = list[index].record(success: ok, cause: cause, now: SteadyClock.instant)
            trackers[task.taskId] = list
            if changed { await report(task.taskId, list) }
            try? await Task.sleep(for: .milliseconds(Int64(check.intervalSeconds * 1000)))
        }
    }

    /// Probes each readiness check until it answers ready, then reports once and stops.
    private func readinessLoop(_ task: TaskInfo, _ checks: [TaskReadinessCheck], _ generation: Int) async {
        var pending = checks
        while current(task.taskId, generation) {
            var still: [TaskReadinessCheck] = []
            for check in pending where !(await probe.ready(check)) { still.append(check) }
            pending = still
            if pending.isEmpty {
                await reportReady(task.taskId)
                return
            }
            let interval = pending.map(\.intervalSeconds).min() ?? 1
            try? await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
        }
    }
}
