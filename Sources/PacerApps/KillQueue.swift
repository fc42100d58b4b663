/// KILLs waiting for a sender, grouped by agent: a batch names tasks of one agent, which the
/// master then sends that agent as one message (`KILL_MANY`), its agent answers with one update
/// for them all, and the framework acknowledges them together. Taking kills in the order they
/// were queued instead spread each batch over as many agents as tasks (a deleted app's tasks are
/// on different agents): a mass kill cost five HTTP requests a task through the master.
/// Agents take turns in the order of their oldest kill; an agent with more than a batch goes
/// to the back for the rest, so none waits behind one agent's hundreds.
struct KillQueue {
    private var tasks: [String: [String]] = [:]
    private var turns = HeadQueue<String>()
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(taskId: String, agentId: String) {
        if tasks[agentId] == nil {
            tasks[agentId] = []
            turns.append(agentId)
        }
        tasks[agentId]!.append(taskId)
        count += 1
    }

    /// Up to `max` tasks of the agent whose turn it is, oldest first.
    mutating func next(max: Int) -> (agentId: String, taskIds: [String])? {
        guard !turns.isEmpty, let agentId = turns.popFirst(1).first, let queued = tasks[agentId] else { return nil }
        let taken = Array(queued.prefix(max))
        if queued.count > taken.count {
            tasks[agentId] = Array(queued.dropFirst(taken.count))
            turns.append(agentId)
        } else {
            tasks[agentId] = nil
        }
        count -= taken.count
        return (agentId, taken)
    }
}
