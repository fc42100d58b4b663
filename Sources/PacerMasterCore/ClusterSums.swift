import PacerModel

/// One agent's part of the cluster-wide sums the allocator orders by (scalars only). Kept per
/// agent and added into `ClusterSums`, so a change on one agent costs that agent: recomputing the
/// sums for every agent offered made allocation quadratic in cluster size (issue 12).
struct AgentShare: Equatable {
    var total = Resources()
    /// Non-revocable resources held by tasks and outstanding offers, by role.
    var byRole: [String: Resources] = [:]
    var unreservedFree = Resources()
    /// The same, by framework (its dominant share orders frameworks within a role).
    var byFramework: [String: Resources] = [:]
}

/// Sums of every reachable agent's share.
struct ClusterSums: Equatable {
    var total = Resources()
    var byRole: [String: Resources] = [:]
    var unreservedFree = Resources()
    var byFramework: [String: Resources] = [:]

    mutating func add(_ s: AgentShare, sign: Double) {
        total = Self.sum(total, s.total, sign)
        unreservedFree = Self.sum(unreservedFree, s.unreservedFree, sign)
        for (role, r) in s.byRole { byRole[role] = Self.sum(byRole[role] ?? Resources(), r, sign) }
        for (fid, r) in s.byFramework { byFramework[fid] = Self.sum(byFramework[fid] ?? Resources(), r, sign) }
    }

    /// Signed scalar sum; what floating-point subtraction leaves behind below zero is zero.
    static func sum(_ a: Resources, _ b: Resources, _ sign: Double) -> Resources {
        Resources(cpus: max(0, a.cpus + sign * b.cpus), mem: max(0, a.mem + sign * b.mem), disk: max(0, a.disk + sign * b.disk))
    }
}

extension MasterCore {
    /// An agent's tasks, offers, reservations or reachability changed: its share in the sums is
    /// replaced, and it is offered again at the next allocation.
    mutating func touch(_ agentId: String) {
        if let old = shares.removeValue(forKey: agentId) { sums.add(old, sign: -1) }
        if let new = share(agentId) {
            sums.add(new, sign: 1)
            shares[agentId] = new
        }
        dirty.insert(agentId)
    }

    func share(_ agentId: String) -> AgentShare? {
        guard let agent = agents[agentId], agent.reachable, let l = ledger(agentId) else { return nil }
        var s = AgentShare(total: agent.info.resources.scalars, byRole: l.used, unreservedFree: l.unreservedFree)
        for t in agent.tasks.values where !t.state.isTerminal && t.info.revocable != true {
            s.byFramework[t.frameworkId] = (s.byFramework[t.frameworkId] ?? Resources()) + t.info.resources.scalars
        }
        for o in offers.on(agent: agentId) where o.revocable != true {
            s.byFramework[o.frameworkId] = (s.byFramework[o.frameworkId] ?? Resources()) + o.resources.scalars
        }
        return s
    }

    /// Recomputes every share and sum from scratch: what incremental floating-point sums drift
    /// from, once per full allocation.
    mutating func recomputeSums() {
        shares = [:]
        sums = ClusterSums()
        for id in agents.keys {
            if let s = share(id) {
                shares[id] = s
                sums.add(s, sign: 1)
            }
        }
    }

    // MARK: changes that move shares

    mutating func addOffer(_ offer: Offer, now: Instant) {
        offers.add(offer, now: now)
        touch(offer.agentId)
    }

    @discardableResult
    mutating func removeOffer(_ id: String) -> Offer? {
        guard let o = offers.remove(id) else { return nil }
        touch(o.agentId)
        return o
    }

    /// Adds, replaces or (nil) removes a task on an agent, keeping the task → agent index.
    mutating func setTask(_ taskId: String, on agentId: String, _ task: MasterTask?) {
        agents[agentId]?.tasks[taskId] = task
        taskAgent[taskId] = task == nil ? nil : agentId
        if task == nil { agents[agentId]?.shrinkTasks() }
    }
}

extension AgentEntry {
    /// A dictionary keeps the room it once needed: an agent that once held 150 tasks kept room for
    /// 192 while it held 25, and after a mass kill every agent kept the room of its busiest moment.
    /// Rebuilt when under a quarter full, so the cost is paid once per halving. (Under churn, as
    /// tasks gathered on some agents and left others, the master grew by such slots: heaptrack,
    /// 500 agents, 100 kills and launches a second, +5.4 MiB in 200 s; a slot is now 64 bytes,
    /// was 370, see `MasterTask`.)
    mutating func shrinkTasks() {
        guard tasks.capacity > Self.tasksKeptRoom, tasks.count * 4 < tasks.capacity else { return }
        var smaller = [String: MasterTask](minimumCapacity: tasks.count)
        for (id, t) in tasks { smaller[id] = t }
        tasks = smaller
    }

    /// Room every agent may keep (the scale benchmark's 25 tasks an agent fit).
    static let tasksKeptRoom = 48
}
