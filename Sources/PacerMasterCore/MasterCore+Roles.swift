import PacerModel

/// One agent's resources split by role: what is reserved for each role, what each role uses
/// (tasks and outstanding offers), and what is left for whom. Revocable tasks are counted apart:
/// they live on capacity that services may take back.
struct AgentLedger {
    var total: Resources
    var reserved: [String: Resources]
    var used: [String: Resources] = [:]
    var revocableUsed = Resources()
    /// Cpus services are expected to need (their recent use plus a margin), the rest of their allocation lendable.
    var serviceCpusExpected = 0.0
    var serviceOfferCpus = 0.0
    /// Ports held by any task or offer (as collected; normalized when free ports are asked for);
    /// ports are never reserved.
    var portsTaken: [PortRange] = []

    /// Of a role's use, the part inside its reservation; the rest comes from the unreserved pool.
    fileprivate func inReservation(_ role: String) -> Resources {
        Resources.minimum(used[role] ?? Resources(), reserved[role] ?? Resources())
    }

    var unreservedTotal: Resources { reserved.values.reduce(total.scalars) { $0 - $1 } }

    /// Unreserved scalars nobody uses.
    var unreservedFree: Resources {
        used.keys.reduce(unreservedTotal) { free, role in free - ((used[role] ?? Resources()) - inReservation(role)) }
    }

    /// What `role` may be offered here (non-revocable): its free reservation plus the free unreserved pool.
    func available(_ role: String) -> (reserved: Resources, unreserved: Resources) {
        ((reserved[role] ?? Resources()) - inReservation(role), unreservedFree)
    }

    /// Best effort: memory and disk nobody holds, and the cpus services are not expected to use.
    var revocableFree: Resources {
        let held = used.values.reduce(Resources()) { $0 + $1 }
        let cpus = total.cpus - serviceCpusExpected - serviceOfferCpus - revocableUsed.cpus
        return Resources(
            cpus: max(0, cpus), mem: max(0, total.mem - held.mem - revocableUsed.mem),
            disk: max(0, total.disk - held.disk - revocableUsed.disk))
    }

    var freePorts: [PortRange] { PortRange.subtract(portsTaken, from: total.ports) }

    /// An outstanding offer on the agent holds what it offers.
    mutating func count(_ o: Offer) {
        portsTaken += o.resources.ports
        if o.revocable == true {
            revocableUsed = revocableUsed + o.resources.scalars
            return
        }
        let role = o.role ?? Role.any
        used[role] = (used[role] ?? Resources()) + o.resources.scalars
        serviceOfferCpus += o.resources.cpus
    }
}

extension MasterCore {
    /// Static reservations from the agent plus dynamic ones from the operator.
    public func reservations(_ agentId: String) -> [String: Resources] {
        var out = agents[agentId]?.info.reserved ?? [:]
        for (role, r) in policy.reservations[agentId] ?? [:] { out[role] = (out[role] ?? Resources()) + r }
        return out.filter { !$0.value.isEmpty }
    }

    func ledger(_ agentId: String) -> AgentLedger? {
        guard let agent = agents[agentId] else { return nil }
        var l = AgentLedger(total: agent.info.resources, reserved: reservations(agentId))
        for t in agent.tasks.values where !t.state.isTerminal {
            l.portsTaken += t.info.resources.ports
            if t.info.revocable == true {
                if !t.preempted { l.revocableUsed = l.revocableUsed + t.info.resources.scalars }
                continue
            }
            let role = t.info.role ?? Role.any
            l.used[role] = (l.used[role] ?? Resources()) + t.info.resources.scalars
            l.serviceCpusExpected += agent.expectedCpus(t)
        }
        for o in offers.on(agent: agentId) { l.count(o) }
        return l
    }

    /// Per role, what its tasks and outstanding offers hold across reachable agents (non-revocable).
    public func allocatedByRole() -> [String: Resources] { sums.byRole.filter { !$0.value.isEmpty } }

    /// The resources of every reachable agent.
    public var clusterTotal: Resources { sums.total }

    // MARK: operator calls

    /// Sets resources aside for a role on an agent. They must be unreserved and unused now; offers
    /// outstanding on the agent are rescinded first so the check sees what is really free.
    public mutating func reserve(_ r: Reservation) throws(MasterCallError) -> [MasterDirective] {
        try validate(r)
        let out = rescindOffers(agentId: r.agentId)
        guard let l = ledger(r.agentId), l.unreservedFree.contains(r.resources.scalars) else {
            let free = ledger(r.agentId)?.unreservedFree ?? Resources()
            throw MasterCallError(
                "agent \(r.agentId) has only cpus \(free.cpus), mem \(free.mem), disk \(free.disk) unreserved and unused")
        }
        policy.reservations[r.agentId, default: [:]][r.role] =
            (policy.reservations[r.agentId]?[r.role] ?? Resources()) + r.resources.scalars
        touch(r.agentId)
        return out
    }

    /// Gives reserved resources back to the unreserved pool; refused while the role's tasks need them.
    public mutating func unreserve(_ r: Reservation) throws(MasterCallError) -> [MasterDirective] {
        try validate(r)
        let have = policy.reservations[r.agentId]?[r.role] ?? Resources()
        guard have.contains(r.resources.scalars) else {
            throw MasterCallError(
                "role \(r.role) has only cpus \(have.cpus), mem \(have.mem), disk \(have.disk) dynamically reserved on agent \(r.agentId)"
            )
        }
        let out = rescindOffers(agentId: r.agentId)
        let l = ledger(r.agentId)!
        let after = (l.reserved[r.role] ?? Resources()) - r.resources.scalars
        guard after.contains(l.inReservation(r.role)) else {
            throw MasterCallError("the reservation is in use by tasks of role \(r.role) on agent \(r.agentId); kill them first")
        }
        let left = have - r.resources.scalars
        policy.reservations[r.agentId]?[r.role] = left.isEmpty ? nil : left
        if policy.reservations[r.agentId]?.isEmpty == true { policy.reservations[r.agentId] = nil }
        touch(r.agentId)
        return out
    }

    public mutating func setWeight(_ role: String, _ weight: Double) throws(MasterCallError) {
        guard Role.isValid(role) else { throw MasterCallError("invalid role name '\(role)'") }
        guard weight > 0, weight.isFinite else { throw MasterCallError("weight must be a positive number") }
        policy.weights[role] = weight == 1 ? nil : weight
        allocateAll = true
    }

    public mutating func setQuota(_ role: String, _ quota: Quota?) throws(MasterCallError) {
        guard Role.isValid(role), role != Role.any else { throw MasterCallError("quota needs a named role, not '\(role)'") }
        if let q = quota, let limit = q.limit, !limit.scalars.contains(q.guarantee.scalars) {
            throw MasterCallError("the quota's guarantee exceeds its limit")
        }
        policy.quotas[role] = quota
        allocateAll = true
    }

    func validate(_ r: Reservation) throws(MasterCallError) {
        guard Role.isValid(r.role), r.role != Role.any else {
            throw MasterCallError("reservations need a named role, not '\(r.role)'")
        }
        guard agents[r.agentId] != nil else { throw MasterCallError("unknown agent \(r.agentId)") }
        guard !r.resources.scalars.isEmpty, r.resources.cpus >= 0, r.resources.mem >= 0, r.resources.disk >= 0 else {
            throw MasterCallError("a reservation needs positive cpus, mem or disk")
        }
    }

    /// Takes back every offer outstanding on an agent (its resources changed), telling each framework.
    mutating func rescindOffers(agentId: String) -> [MasterDirective] {
        offers.on(agent: agentId).sorted { $0.id < $1.id }.flatMap { o in
            removeOffer(o.id)
            return send(o.frameworkId, .rescind(o.id))
        }
    }

    /// Offers nobody answered within the offer timeout go back to the pool, the framework told.
    mutating func expireOffers(now: Instant) -> [MasterDirective] {
        offers.forgetLapsed(madeBefore: now - settings.offerTimeout * 2)
        return offers.expire(madeBefore: now - settings.offerTimeout).flatMap { o in
            touch(o.agentId)
            return send(o.frameworkId, .rescind(o.id))
        }
    }

    /// An ACCEPT naming offers that timed out while it was on its way — behind a busy framework's
    /// backlog, 35,000 of 50,000 launches at 2,000 agents were dropped this way and made again,
    /// and placement never finished — is honoured when what those offers held is still free: the
    /// agent's other outstanding offers are taken back first (the lapsed offer's resources were
    /// offered again meanwhile), then the lapsed ones are outstanding again and the ACCEPT goes on
    /// as usual. Lapsed offers are forgotten twice the offer timeout after they were made.
    mutating func reinstateLapsed(_ ids: [String], _ fid: String, now: Instant) -> [MasterDirective] {
        let lapsed = ids.compactMap { offers.lapsed($0) }
        guard let agentId = lapsed.first?.agentId, agents[agentId]?.reachable == true,
            lapsed.allSatisfy({ $0.agentId == agentId && $0.frameworkId == fid && $0.revocable != true })
        else { return [] }
        let named = Set(ids)
        let out = offers.on(agent: agentId).filter { !named.contains($0.id) }.sorted { $0.id < $1.id }.flatMap { o in
            removeOffer(o.id)
            return send(o.frameworkId, .rescind(o.id))
        }
        guard var l = ledger(agentId) else { return out }
        for o in lapsed {
            let role = o.role ?? Role.any
            let (reserved, unreserved) = l.available(role)
            var room = reserved + unreserved
            room.ports = l.freePorts
            guard room.contains(o.resources) else { return out }
            l.used[role] = (l.used[role] ?? Resources()) + o.resources.scalars
            l.portsTaken += o.resources.ports
        }
        for o in lapsed { offers.reinstate(o.id, now: now) }
        return out
    }
}
