import PacerModel

extension MasterCore {
    /// Periodic work: expire silent agents and unanswered offers, expire frameworks past their
    /// failover timeout, heartbeat frameworks, and offer what is free.
    public mutating func onTick(now: Instant) -> [MasterDirective] {
        var out = expireAgents(now: now) + expireOffers(now: now)
        pruneForwarded(now: now)
        for (id, f) in frameworks.sorted(by: { $0.key < $1.key })
        where !f.connected && now - (f.disconnectedAt ?? now) > .seconds(f.info.failoverTimeoutSeconds) {
            out += teardown(id)
        }
        if now - lastHeartbeat >= settings.frameworkHeartbeat {
            lastHeartbeat = now
            for (id, f) in frameworks.sorted(by: { $0.key < $1.key }) where f.connected {
                out.append(.toFramework(id, .heartbeat))
            }
        }
        // Agents come up for offers when their resources or measured use change (`dirty`) or a
        // refusal of them runs out; every agent only when what one agent may be offered depends on
        // the rest of the cluster (quota: a role's use elsewhere), else rarely, as a safety net.
        dirty.formUnion(refusalWakeups.due(now: now))
        let every = policy.quotas.isEmpty ? settings.quietAllocationInterval : settings.allocationInterval
        if now - lastFullPass >= every { allocateAll = true }
        if now - lastRecompute >= .seconds(60) {
            // What incremental floating-point sums drift from, once a minute (it costs every task).
            lastRecompute = now
            recomputeSums()
        }
        return out + allocate(now: now)
    }

    /// Offers reachable agents' free resources — those whose resources changed since the last
    /// allocation, or all of them (`allocateAll`) — role by role in weighted-DRF order (roles
    /// short of their quota guarantee first), each role's share to the framework of that role with
    /// the smallest dominant share; never beyond a role's quota limit, never into the headroom
    /// other roles' unmet guarantees need. Then idle capacity goes as revocable offers to
    /// frameworks that take them. One outstanding offer per agent and role; one OFFERS event per
    /// framework and allocation.
    mutating func allocate(now: Instant) -> [MasterDirective] {
        let candidates = frameworks.filter { $0.value.connected && !$0.value.suppressed }
        guard !candidates.isEmpty else {
            dirty = []  // the full pass a subscription or REVIVE asks for covers these
            return []
        }
        // A full pass costs every agent: asked for by a burst of REVIVEs (one per app created), it
        // runs at most every `minFullAllocation`, the others left to the next tick.
        let full = allocateAll || (reviveRequested && now - lastFullPass >= settings.minFullAllocation)
        if full {
            lastFullPass = now
            reviveRequested = false
            allocateAll = false
        }
        let targets = full ? Array(agents.keys) : Array(dirty)
        dirty = []
        guard !targets.isEmpty else { return [] }
        agentsVisited += targets.count
        var members: [String: [String]] = [:]
        for (id, f) in candidates { for role in f.info.servedRoles { members[role, default: []].append(id) } }
        var made: [String: [Offer]] = [:]
        // Found once per pass, not per agent: once a second every agent is visited, and a
        // per-agent filter of the frameworks (and a copy of the agent's entry) was most of what a
        // pass cost with heartbeats only.
        let revocableTakers = candidates.filter { $0.value.info.wantsRevocable }.keys.sorted()
        for agentId in targets.sorted() {
            guard agents[agentId]?.reachable == true else { continue }
            // The agent's ledger costs its tasks: built once, when first needed, and kept up to
            // date with the offers made from it (built again for the revocable offer, it was a
            // third of the master's CPU while REVIVEs came every few hundred milliseconds).
            var l: AgentLedger?
            for role in drfOrder(Array(members.keys), allocated: sums.byRole, total: sums.total) {
                guard !offers.has(agent: agentId, where: { ($0.role ?? Role.any) == role && $0.revocable != true }),
                    let offer = offer(agentId, role: role, members: members[role] ?? [], ledger: &l, now: now)
                else { continue }
                addOffer(offer, now: now)
                l?.count(offer)
                made[offer.frameworkId, default: []].append(offer)
            }
            if let offer = offerRevocable(agentId, takers: revocableTakers, ledger: &l, now: now) {
                addOffer(offer, now: now)
                made[offer.frameworkId, default: []].append(offer)
            }
        }
        // The agents just offered are not dirty: the offers themselves changed their shares.
        for list in made.values { for o in list { dirty.remove(o.agentId) } }
        return made.keys.sorted().map { .toFramework($0, .offers(made[$0]!)) }
    }

    /// What `role` may be offered on this agent now, to whom; nil when nothing worth offering.
    /// `ledger`: the agent's, when already built (built here when nil and needed).
    mutating func offer(
        _ agentId: String, role: String, members: [String], ledger built: inout AgentLedger?, now: Instant
    ) -> Offer? {
        // Who may be offered comes first: the ledger costs the agent's tasks, and a framework
        // that declined this agent has no use for it yet.
        let key = Self.refusalKey(agentId, role: role, revocable: false)
        let eligible = members.filter { (frameworks[$0]?.refusals[key] ?? .distantPast) <= now }
        guard !eligible.isEmpty else { return nil }
        if built == nil { built = ledger(agentId) }
        guard let l = built else { return nil }
        var (reserved, unreserved) = l.available(role)
        if let limit = policy.quotas[role]?.limit {
            let room = limit.scalars - (sums.byRole[role] ?? Resources())
            reserved = Resources.minimum(reserved, room)
            unreserved = Resources.minimum(unreserved, room - reserved)
        }
        if meetsGuarantee(role, sums.byRole) {
            unreserved = Resources.minimum(unreserved, sums.unreservedFree - guaranteeHeadroom(excluding: role, sums.byRole))
        }
        let scalars = reserved + unreserved
        guard scalars.cpus >= settings.minOfferCpus, scalars.mem >= settings.minOfferMem else { return nil }
        guard let fid = eligible.min(by: { frameworkOrder($0) < frameworkOrder($1) }), let info = agents[agentId]?.info
        else { return nil }
        return Offer(
            id: nextId("offer"), frameworkId: fid, agentId: agentId, hostname: info.hostname,
            attributes: info.attributes,
            resources: Resources(
                cpus: scalars.cpus, mem: scalars.mem,
                disk: scalars.disk, ports: l.freePorts), role: role)
    }

    /// Idle capacity (what neither services nor batch tasks hold) to a framework that takes revocable offers.
    /// `takers`: the candidates that take revocable offers, by id.
    private mutating func offerRevocable(
        _ agentId: String, takers: [String], ledger built: inout AgentLedger?, now: Instant
    ) -> Offer? {
        guard !takers.isEmpty else { return nil }
        let key = Self.refusalKey(agentId, role: nil, revocable: true)
        guard
            let fid = takers.filter({ (frameworks[$0]?.refusals[key] ?? .distantPast) <= now })
                .min(by: { (offers.count(of: $0), $0) < (offers.count(of: $1), $1) }),
            let info = agents[agentId]?.info, !offers.has(agent: agentId, where: { $0.revocable == true })
        else { return nil }
        if built == nil { built = ledger(agentId) }
        guard let l = built, l.revocableFree.cpus >= settings.minOfferCpus, l.revocableFree.mem >= settings.minOfferMem
        else { return nil }
        let free = Resources(cpus: l.revocableFree.cpus, mem: l.revocableFree.mem, disk: l.revocableFree.disk, ports: l.freePorts)
        return Offer(
            id: nextId("offer"), frameworkId: fid, agentId: agentId, hostname: info.hostname,
            attributes: info.attributes, resources: free,
            role: frameworks[fid]?.info.servedRoles.first, revocable: true)
    }

    /// Roles below their guarantee first, then by dominant share over weight, then by name.
    private func drfOrder(_ roles: [String], allocated: [String: Resources], total: Resources) -> [String] {
        guard roles.count > 1 else { return roles }
        return roles.sorted { a, b in
            let ka = (
                meetsGuarantee(a, allocated) ? 1 : 0, (allocated[a] ?? Resources()).dominantShare(of: total) / policy.weight(a)
            )
            let kb = (
                meetsGuarantee(b, allocated) ? 1 : 0, (allocated[b] ?? Resources()).dominantShare(of: total) / policy.weight(b)
            )
            return ka != kb ? ka < kb : a < b
        }
    }

    private func meetsGuarantee(_ role: String, _ allocated: [String: Resources]) -> Bool {
        guard let g = policy.quotas[role]?.guarantee.scalars, !g.isEmpty else { return true }
        return (allocated[role] ?? Resources()).contains(g)
    }

    /// What other roles still need to reach their guarantees: kept out of everyone else's offers.
    private func guaranteeHeadroom(excluding role: String, _ allocated: [String: Resources]) -> Resources {
        policy.quotas.filter { $0.key != role }.reduce(Resources()) { sum, q in
            sum + (q.value.guarantee.scalars - (allocated[q.key] ?? Resources()))
        }
    }

    /// Within a role: the framework with the smallest dominant share (tasks and offers it holds),
    /// then fewest offers outstanding.
    private func frameworkOrder(_ fid: String) -> (Double, Int, String) {
        ((sums.byFramework[fid] ?? Resources()).dominantShare(of: sums.total), offers.count(of: fid), fid)
    }
}
