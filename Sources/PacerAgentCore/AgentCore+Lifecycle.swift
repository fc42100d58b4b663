import PacerModel

extension AgentCore {
    /// The master asks for tasks to run. Duplicates (a resent LAUNCH) are ignored; a task whose
    /// ports are held by another fails at once with a message that says so.
    public mutating func onLaunch(frameworkId: String, _ tasks: [TaskInfo], now: Instant) -> [AgentDirective] {
        var toSpawn: [TaskInfo] = []
        var inUse = portsInUse
        for t in tasks where state.tasks[t.taskId] == nil {
            let clash = t.resources.portList.filter { inUse.contains($0) }
            state.tasks[t.taskId] = AgentTask(info: t, frameworkId: frameworkId, state: .staging)
            if !clash.isEmpty {
                finish(
                    t.taskId, .failed,
                    message: "port(s) \(clash.map(String.init).joined(separator: ",")) already in use on this agent",
                    reason: "REASON_PORTS_IN_USE", now: now)
                continue
            }
            inUse.formUnion(t.resources.portList)
            toSpawn.append(t)
        }
        let failed = due(now: now)
        return (failed.isEmpty ? [] : [.checkpoint, .send(failed)]) + (toSpawn.isEmpty ? [] : [.spawn(toSpawn)])
    }

    /// The shell started (or failed to start) processes.
    public mutating func onSpawned(_ results: [(taskId: String, result: Result<Int32, SpawnError>)], now: Instant)
        -> [AgentDirective]
    {
        for (taskId, result) in results {
            guard let t = state.tasks[taskId] else { continue }
            switch result {
            case .success(let pid):
                state.tasks[taskId]?.pid = pid
                state.tasks[taskId]?.state = .running
                enqueue(taskId, frameworkId: t.frameworkId, .starting, now: now)
                enqueue(taskId, frameworkId: t.frameworkId, .running, now: now)
            case .failure(let error):
                finish(
                    taskId, .failed, message: "could not start the command: \(error.message)",
                    reason: "REASON_COMMAND_EXECUTOR_FAILED", now: now)
            }
        }
        return [.checkpoint] + flush(due(now: now))
    }

    /// SIGTERM to the process group now, SIGKILL after the grace period (see `tick`).
    public mutating func onKill(
        taskId: String, frameworkId: String, reason: String? = nil, message: String? = nil,
        now: Instant
    ) -> [AgentDirective] {
        onKill([AgentMessage.Kill(taskId: taskId, frameworkId: frameworkId, reason: reason, message: message)], now: now)
    }

    /// Several kills (one `KILL_MANY` message): one checkpoint, and their updates in one send.
    public mutating func onKill(_ orders: [AgentMessage.Kill], now: Instant) -> [AgentDirective] {
        var changed = false
        var signals: [AgentDirective] = []
        for k in orders {
            guard let t = state.tasks[k.taskId] else {
                enqueue(
                    k.taskId, frameworkId: k.frameworkId, .lost, message: "kill of a task unknown to this agent",
                    reason: "REASON_RECONCILIATION", now: now)
                changed = true
                continue
            }
            guard !t.state.isTerminal, t.kill == nil else { continue }
            changed = true
            let order = KillOrder(askedAt: now, reason: k.reason, message: k.message)
            guard let pid = t.pid else {
                state.tasks[k.taskId]?.kill = .beforeStart(order)
                finish(
                    k.taskId, .killed, message: "killed before it started", reason: "REASON_TASK_KILLED_DURING_LAUNCH",
                    now: now)
                continue
            }
            state.tasks[k.taskId]?.state = .killing
            state.tasks[k.taskId]?.kill = .terminating(order, termSentAt: now)
            escalationsDueAt = min(escalationsDueAt, now + killGrace(t.info))
            enqueue(k.taskId, frameworkId: t.frameworkId, .killing, now: now)
            signals.append(.signal(taskId: k.taskId, pid: pid, signal: Self.sigterm))
        }
        return changed ? [.checkpoint] + signals + flush(due(now: now)) : []
    }

    /// The task's process ended. Anything left in its process group is killed by the shell.
    /// `oomKilled`: the kernel's OOM killer struck in the task's cgroup (its memory limit).
    public mutating func onExited(taskId: String, _ status: ExitStatus, oomKilled: Bool = false, now: Instant) -> [AgentDirective]
    {
        guard let t = state.tasks[taskId], !t.state.isTerminal else { return [] }
        conclude(taskId, t, status, oomKilled: oomKilled, now: now)
        return [.checkpoint] + flush(due(now: now))
    }

    /// The final state and message for a task that ended with `status`.
    private mutating func conclude(_ taskId: String, _ t: AgentTask, _ status: ExitStatus, oomKilled: Bool, now: Instant) {
        let killed = t.kill != nil
        switch status {
        case _ where oomKilled && !killed:
            let limit = t.info.memoryLimitMiB.map { "\(Int($0)) MiB" } ?? "its"
            finish(
                taskId, .failed,
                message:
                    "Memory limit exceeded: the task used more than \(limit) of memory and was killed by the kernel's OOM killer",
                reason: "REASON_CONTAINER_LIMITATION_MEMORY", now: now)
        case _ where t.kill?.order.reason != nil:
            finish(taskId, .killed, message: t.kill?.order.message ?? "killed", reason: t.kill?.order.reason, now: now)
        case .exited(0) where !killed:
            finish(taskId, .finished, message: "Command exited with status 0", now: now)
        case .exited(let code):
            finish(
                taskId, killed ? .killed : .failed, message: "Command exited with status \(code)",
                reason: killed ? nil : "REASON_COMMAND_EXECUTOR_FAILED", now: now)
        case .signaled(let sig):
            finish(
                taskId, killed ? .killed : .failed, message: "Command terminated with signal \(signalName(sig))",
                reason: killed ? nil : "REASON_COMMAND_EXECUTOR_FAILED", now: now)
        }
    }

    mutating func finish(_ taskId: String, _ s: TaskState, message: String, reason: String? = nil, now: Instant) {
        guard let t = state.tasks[taskId] else { return }
        state.tasks[taskId]?.state = s
        enqueue(taskId, frameworkId: t.frameworkId, s, message: message, reason: reason, now: now)
    }

    /// Acknowledged updates leave the ledger; a terminal task leaves with its last update.
    public mutating func onAcknowledged(_ acks: [Acknowledgement], now: Instant) -> [AgentDirective] {
        var changed = false
        for ack in acks {
            guard let head = state.pending[ack.taskId]?.first, head.status.uuid == ack.uuid else { continue }
            state.pending[ack.taskId]!.removeFirst()
            resendsDueAt = .distantPast  // the next in the queue, if any, goes now
            changed = true
            if state.pending[ack.taskId]!.isEmpty {
                state.pending[ack.taskId] = nil
                if state.tasks[ack.taskId]?.state.isTerminal == true { state.tasks[ack.taskId] = nil }
            }
        }
        return changed ? [.checkpoint] + flush(due(now: now)) : []
    }

    /// Resends what is due and escalates kills whose grace period ran out.
    public mutating func onTick(now: Instant) -> [AgentDirective] {
        var out: [AgentDirective] = []
        if now >= escalationsDueAt {
            // Only the tasks being killed are sorted (for a repeatable order): sorting every task
            // each second was 5 % of the simulated fleet's CPU in a mass kill.
            var next = Instant.distantFuture
            for (id, t) in state.tasks.filter({ $0.value.state == .killing }).sorted(by: { $0.key < $1.key }) {
                guard case .terminating(let order, let sent) = t.kill, let pid = t.pid else { continue }
                if now - sent >= killGrace(t.info) {
                    out.append(.signal(taskId: id, pid: pid, signal: Self.sigkill))
                    state.tasks[id]?.kill = .forced(order, termSentAt: sent)
                } else {
                    next = min(next, sent + killGrace(t.info))
                }
            }
            escalationsDueAt = next
        }
        let resend = due(now: now)
        return out + (resend.isEmpty ? [] : [.checkpoint, .send(resend)])
    }

    /// SIGTERM → SIGKILL: the task's own grace period, else the agent's.
    private func killGrace(_ info: TaskInfo) -> Duration {
        info.killGracePeriodSeconds.map { Duration.seconds($0) } ?? settings.defaultKillGrace
    }

    /// After (re-)registering, the master may have lost what was in flight: send every head now.
    public mutating func onRegistered(now: Instant) -> [AgentDirective] {
        let heads = due(now: now, force: true)
        return heads.isEmpty ? [] : [.checkpoint, .send(heads)]
    }

    /// After an agent restart: a task whose process is gone ended while nobody watched. Its keeper
    /// normally recorded how (`exit`); without that, all that is known is that it is gone.
    /// `orphanedAfter`: the keeper stopped the task itself after that many seconds without its agent.
    public mutating func onRecovered(
        taskId: String, exit: ExitStatus?, orphanedAfter: Int? = nil, oomKilled: Bool = false, now: Instant
    ) {
        guard let t = state.tasks[taskId], !t.state.isTerminal else { return }
        if let orphanedAfter {
            return finish(
                taskId, t.kill != nil ? .killed : .lost,
                message: "the agent was gone longer than its recovery timeout (\(orphanedAfter) s): the task's keeper stopped it",
                reason: "REASON_EXECUTOR_TERMINATED", now: now)
        }
        if let exit { return conclude(taskId, t, exit, oomKilled: oomKilled, now: now) }
        finish(
            taskId, t.kill != nil ? .killed : .failed,
            message: "the process ended while the agent was down", reason: "REASON_EXECUTOR_TERMINATED", now: now)
    }
}

public struct SpawnError: Error, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

func signalName(_ sig: Int32) -> String {
    let names: [Int32: String] = [
        1: "Hangup", 2: "Interrupt", 3: "Quit", 6: "Aborted", 9: "Killed",
        11: "Segmentation fault", 13: "Broken pipe", 15: "Terminated"
    ]
    return names[sig].map { "\($0) (\(sig))" } ?? "\(sig)"
}
