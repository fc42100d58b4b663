import PacerModel

/// Allocation over time: one sample per period (10 s) for the last day, in a ring of fixed size,
/// so memory stays bounded however long the master runs. Per agent only the latest sample and
/// running average/peak are kept: 800 agents × 8,640 samples would not be "bounded" in practice.
public struct AllocationHistory: Sendable {
    public typealias Sample = AllocationReport.Sample
    public typealias AgentFigures = AllocationReport.Agent

    public let capacity: Int
    public let period: Double
    public private(set) var samples: [Sample] = []
    var next = 0
    public private(set) var agents: [String: AgentFigures] = [:]

    public init(period: Double = 10, span: Double = 86_400) {
        self.period = period
        capacity = Int((span / period).rounded(.up))
        samples.reserveCapacity(capacity)
    }

    /// Samples in time order.
    public var ordered: [Sample] { Array(samples[next...] + samples[..<next]) }

    public mutating func record(_ core: MasterCore, now: Instant) {
        let byRole = core.allocatedByRole()
        let s = Sample(
            time: now.secondsSince1970, total: core.clusterTotal, allocated: byRole.values.reduce(Resources()) { $0 + $1 },
            byRole: byRole)
        if samples.count < capacity {
            samples.append(s)
        } else {
            samples[next] = s
            next = (next + 1) % capacity
        }
        for (id, agent) in core.agents where agent.reachable {
            // The agent's share is kept current with every change (`MasterCore.touch`): building
            // its ledger again here cost every task of every agent each period.
            let used = (core.shares[id]?.byRole.values.reduce(Resources()) { $0 + $1 }) ?? Resources()
            let rate = used.dominantShare(of: agent.info.resources.scalars)
            var f =
                agents[id]
                ?? AgentFigures(total: agent.info.resources.scalars, allocated: used, averageRate: 0, peakRate: 0, samples: 0)
            f.averageRate = (f.averageRate * Double(f.samples) + rate) / Double(f.samples + 1)
            f.samples += 1
            f.peakRate = max(f.peakRate, rate)
            f.total = agent.info.resources.scalars
            f.allocated = used
            agents[id] = f
        }
        agents = agents.filter { core.agents[$0.key] != nil }
    }
}
