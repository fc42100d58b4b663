import DequeModule
import PacerModel

/// Offers sent and not yet answered. Allocation asks, per agent, whether one is out already, and
/// offers expire oldest first: so they are kept by id, by agent, and in the order they were made.
public struct OfferBook: Sendable {
    public private(set) var byId: [String: Offer] = [:]
    private var byAgent: [String: Set<String>] = [:]
    private var perFramework: [String: Int] = [:]
    /// Offer ids in the order they were made, with when. Answered offers stay here until they
    /// reach the front (skipped then): removal from the middle would cost a scan.
    private var made: Deque<(id: String, at: Instant)> = []

    public init() {}

    public var count: Int { byId.count }
    public var isEmpty: Bool { byId.isEmpty }
    public var values: Dictionary<String, Offer>.Values { byId.values }
    public var keys: Dictionary<String, Offer>.Keys { byId.keys }
    public subscript(id: String) -> Offer? { byId[id] }

    /// How many offers a framework holds.
    public func count(of frameworkId: String) -> Int { perFramework[frameworkId] ?? 0 }

    /// Whether an offer on this agent matching `test` is out (without building a list: allocation
    /// asks this for every agent and role).
    public func has(agent agentId: String, where test: (Offer) -> Bool) -> Bool {
        guard let ids = byAgent[agentId] else { return false }
        return ids.contains { byId[$0].map(test) ?? false }
    }

    /// Offers outstanding on one agent.
    public func on(agent agentId: String) -> [Offer] {
        (byAgent[agentId] ?? []).compactMap { byId[$0] }
    }

    mutating func add(_ offer: Offer, now: Instant) {
        byId[offer.id] = offer
        byAgent[offer.agentId, default: []].insert(offer.id)
        perFramework[offer.frameworkId, default: 0] += 1
        made.append((offer.id, now))
    }

    @discardableResult
    mutating func remove(_ id: String) -> Offer? {
        guard let offer = byId.removeValue(forKey: id) else { return nil }
        byAgent[offer.agentId]?.remove(id)
        if byAgent[offer.agentId]?.isEmpty == true { byAgent[offer.agentId] = nil }
        perFramework[offer.frameworkId, default: 1] -= 1
        if perFramework[offer.frameworkId] == 0 { perFramework[offer.frameworkId] = nil }
        compactFront()
        return offer
    }

    /// Offers that timed out unanswered, by id, and in the order they were made: an ACCEPT of one
    /// may still be on its way (`MasterCore.reinstateLapsed`).
    private var lapsed: [String: Offer] = [:]
    private var lapsedOrder: Deque<(id: String, at: Instant)> = []

    /// Removes and returns the offers made at or before `deadline`, oldest first; they are kept as
    /// lapsed until `forgetLapsed`.
    mutating func expire(madeBefore deadline: Instant) -> [Offer] {
        var out: [Offer] = []
        while let first = made.first, first.at <= deadline {
            made.removeFirst()
            if let offer = byId[first.id] {
                remove(offer.id)
                lapsed[offer.id] = offer
                lapsedOrder.append(first)
                out.append(offer)
            }
        }
        return out
    }

    /// An offer that timed out and is not yet forgotten.
    public func lapsed(_ id: String) -> Offer? { lapsed[id] }

    /// Forgets the lapsed offers made at or before `deadline`.
    mutating func forgetLapsed(madeBefore deadline: Instant) {
        while let first = lapsedOrder.first, first.at <= deadline {
            lapsedOrder.removeFirst()
            lapsed[first.id] = nil
        }
    }

    /// A lapsed offer outstanding again (its ACCEPT arrived and what it offered is still free).
    mutating func reinstate(_ id: String, now: Instant) {
        guard let offer = lapsed.removeValue(forKey: id) else { return }
        add(offer, now: now)
    }

    /// Drops answered offers from the front, so the queue stays as long as what is outstanding
    /// plus what was answered since the oldest outstanding one was made.
    private mutating func compactFront() {
        while let first = made.first, byId[first.id] == nil { made.removeFirst() }
    }
}
