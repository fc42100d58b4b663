import PacerModel

extension MasterCore {
    /// Periodic work: expire silent agents, expire frameworks past their failover timeout,
    /// heartbeat frameworks, and offer what is free.
    public mutating func tick(now: Double) -> [MasterDirective] {
        var out = expireAgents(now: now) + expireOffers(now: now)
        for (id, f) in frameworks.sorted(by: { $0.key < $1.key })
        where !f.connected && now - (f.disconnectedAt ?? now) > f.info.failoverTimeoutSeconds {
            out += teardown(id)
        }
        if now - lastHeartbeat >= settings.frameworkHeartbeat {
            lastHeartbeat = now
            for (id, f) in frameworks.sorted(by: { $0.key < $1.key }) where f.connected {
                out.append(.toFramework(id, .heartbeat))
            }
        }
        return out + allocate(now: now)
    }

    /// Offers each reachable agent's free resources, role by role in weighted-DRF order (roles short
    /// of their quota guarantee first), each role's share to the framework of that role with the
    /// smallest dominant share; never beyond a role's quota limit, never into the headroom other
    /// roles' unmet guarantees need. Then idle capacity goes as revocable offers to frameworks that
    /// take them. One outstanding offer per agent and role.
    mutating func allocate(now: Double) -> [MasterDirective] {
        let candidates = frameworks.filter { $0.value.connected && !$0.value.suppressed }
        guard !candidates.isEmpty else { return [] }
        var members: [String: [String]] = [:]
        for (id, f) in candidates { for role in f.info.servedRoles { members[role, default: []].append(id) } }
        let total = clusterTotal
        var allocated = allocatedByRole()
        var out: [MasterDirective] = []
        for agentId in agents.keys.sorted() {
            guard let agent = agents[agentId], agent.reachable else { continue }
            for role in drfOrder(Array(members.keys), allocated: allocated, total: total) {
                guard !offers.on(agent: agentId).contains(where: { ($0.role ?? Role.any) == role && $0.revocable != true }),
                      let l = ledger(agentId) else { continue }
                var (reserved, unreserved) = l.available(role)
                if let limit = policy.quotas[role]?.limit {
                    let room = limit.scalars - (allocated[role] ?? Resources())
                    reserved = Resources.minimum(reserved, room)
                    unreserved = Resources.minimum(unreserved, room - reserved)
                }
                if meetsGuarantee(role, allocated) {
                    unreserved = Resources.minimum(unreserved, clusterUnreservedFree() - guaranteeHeadroom(excluding: role, allocated))
                }
                let scalars = reserved + unreserved
                guard scalars.cpus >= settings.minOfferCpus, scalars.mem >= settings.minOfferMem else { continue }
                let key = Self.refusalKey(agentId, role: role, revocable: false)
                let eligible = members[role, default: []].filter { (frameworks[$0]?.refusals[key] ?? 0) <= now }
                guard let fid = eligible.min(by: { frameworkOrder($0, total) < frameworkOrder($1, total) }) else { continue }
                let offer = Offer(id: nextId("offer"), frameworkId: fid, agentId: agentId, hostname: agent.info.hostname,
                                  attributes: agent.info.attributes, resources: Resources(cpus: scalars.cpus, mem: scalars.mem,
                                  disk: scalars.disk, ports: l.freePorts), role: role)
                offers.add(offer, now: now)
                allocated[role] = (allocated[role] ?? Resources()) + scalars
                out.append(.toFramework(fid, .offers([offer])))
            }
            out += offerRevocable(agentId, candidates: candidates, now: now)
        }
        return out
    }

    /// Idle capacity (what neither services nor batch tasks hold) to a framework that takes revocable offers.
    mutating func offerRevocable(_ agentId: String, candidates: [String: FrameworkEntry], now: Double) -> [MasterDirective] {
        guard let agent = agents[agentId], !offers.on(agent: agentId).contains(where: { $0.revocable == true }),
              let l = ledger(agentId), l.revocableFree.cpus >= settings.minOfferCpus, l.revocableFree.mem >= settings.minOfferMem
        else { return [] }
        let free = Resources(cpus: l.revocableFree.cpus, mem: l.revocableFree.mem, disk: l.revocableFree.disk, ports: l.freePorts)
        let outstanding = Dictionary(grouping: offers.values, by: \.frameworkId).mapValues(\.count)
        guard let fid = candidates.filter({ $0.value.info.wantsRevocable && ($0.value.refusals[Self.refusalKey(agentId, role: nil, revocable: true)] ?? 0) <= now })
            .keys.min(by: { (outstanding[$0] ?? 0, $0) < (outstanding[$1] ?? 0, $1) }) else { return [] }
        let offer = Offer(id: nextId("offer"), frameworkId: fid, agentId: agentId, hostname: agent.info.hostname,
                          attributes: agent.info.attributes, resources: free,
                          role: frameworks[fid]?.info.servedRoles.first, revocable: true)
        offers.add(offer, now: now)
        return [.toFramework(fid, .offers([offer]))]
    }

    /// Roles below their guarantee first, then by dominant share over weight, then by name.
    func drfOrder(_ roles: [String], allocated: [String: Resources], total: Resources) -> [String] {
        roles.sorted { a, b in
            let ka = (meetsGuarantee(a, allocated) ? 1 : 0, (allocated[a] ?? Resources()).dominantShare(of: total) / policy.weight(a))
            let kb = (meetsGuarantee(b, allocated) ? 1 : 0, (allocated[b] ?? Resources()).dominantShare(of: total) / policy.weight(b))
            return ka != kb ? ka < kb : a < b
        }
    }

    func meetsGuarantee(_ role: String, _ allocated: [String: Resources]) -> Bool {
        guard let g = policy.quotas[role]?.guarantee.scalars, !g.isEmpty else { return true }
        return (allocated[role] ?? Resources()).contains(g)
    }

    /// What other roles still need to reach their guarantees: kept out of everyone else's offers.
    func guaranteeHeadroom(excluding role: String, _ allocated: [String: Resources]) -> Resources {
        policy.quotas.filter { $0.key != role }.reduce(Resources()) { sum, q in
            sum + (q.value.guarantee.scalars - (allocated[q.key] ?? Resources()))
        }
    }

    func clusterUnreservedFree() -> Resources {
        agents.keys.filter { agents[$0]?.reachable == true }.reduce(Resources()) { $0 + (ledger($1)?.unreservedFree ?? Resources()) }
    }

    /// Within a role: the framework with the smallest dominant share, then fewest offers outstanding.
    func frameworkOrder(_ fid: String, _ total: Resources) -> (Double, Int, String) {
        var held = Resources()
        for agent in agents.values {
            for t in agent.tasks.values where t.frameworkId == fid && !t.state.isTerminal && t.info.revocable != true {
                held = held + t.info.resources.scalars
            }
        }
        let mine = offers.values.filter { $0.frameworkId == fid }
        held = mine.reduce(held) { $0 + $1.resources.scalars }
        return (held.dominantShare(of: total), mine.count, fid)
    }
}
