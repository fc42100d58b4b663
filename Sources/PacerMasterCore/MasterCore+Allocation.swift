import PacerModel

extension MasterCore {
    /// Periodic work: expire silent agents, expire frameworks past their failover timeout,
    /// heartbeat frameworks, and offer what is free.
    public mutating func tick(now: Double) -> [MasterDirective] {
        var out = expireAgents(now: now)
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

    /// What an agent has that is neither used by tasks nor held in an outstanding offer.
    public func free(agentId: String) -> Resources {
        guard let agent = agents[agentId] else { return Resources() }
        let offered = offers.values.filter { $0.agentId == agentId }.reduce(Resources()) { $0 + $1.resources }
        return agent.info.resources - agent.used - offered
    }

    /// Offers each reachable agent's free resources to one framework that wants them, taking
    /// frameworks in turn (fewest outstanding offers first) so none starves.
    mutating func allocate(now: Double) -> [MasterDirective] {
        var out: [MasterDirective] = []
        let candidates = frameworks.filter { $0.value.connected && !$0.value.suppressed }.keys.sorted()
        guard !candidates.isEmpty else { return [] }
        for agentId in agents.keys.sorted() {
            guard let agent = agents[agentId], agent.reachable,
                  !offers.values.contains(where: { $0.agentId == agentId }) else { continue }
            let available = free(agentId: agentId)
            guard available.cpus >= settings.minOfferCpus, available.mem >= settings.minOfferMem else { continue }
            let outstanding = Dictionary(grouping: offers.values, by: \.frameworkId).mapValues(\.count)
            let eligible = candidates.filter { (frameworks[$0]?.refusals[agentId] ?? 0) <= now }
            guard let fid = eligible.min(by: { (outstanding[$0] ?? 0, $0) < (outstanding[$1] ?? 0, $1) }) else { continue }
            let offer = Offer(id: nextId("offer"), frameworkId: fid, agentId: agentId, hostname: agent.info.hostname,
                              attributes: agent.info.attributes, resources: available)
            offers[offer.id] = offer
            out.append(.toFramework(fid, .offers([offer])))
        }
        return out
    }
}
