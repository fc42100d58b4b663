import PacerModel

/// Events from the master not yet handled, and the order they are handled in: offers first,
/// without those already rescinded, then everything else in arrival order, a bounded batch at a
/// time. Offers expire at the master (15 s) while status updates wait for their acknowledgement
/// without harm: behind a backlog of 40,000 updates every offer expired before it was used, and
/// the tasks launched on it were dropped and launched again (35,000 extra launches for 50,000 tasks,
/// issue 12). Nothing crosses a SUBSCRIBED event: offers made before it belong to the old
/// subscription (the master dropped them) and those after it wait until it is handled.
/// Offers older than `offerMaxAge` are dropped unused (the master rescinds them at 15 s), and at
/// most `maxOffers` are taken per turn, so a turn's launches go out while its offers are valid.
struct SchedulerInbox: Sendable {
    static let offerMaxAge = 10.0
    static let maxOffers = 1_000
    /// Everything but offers and rescinds, in order.
    private var events = HeadQueue<SchedulerEvent>()
    private var offers: [(event: SchedulerEvent, at: Instant)] = []
    /// Offers dropped because they waited too long to be valid still.
    private(set) var staleOffers = 0
    private var rescinded: Set<String> = []
    private var subscriptionsPending = 0

    var isEmpty: Bool { events.isEmpty && offers.isEmpty }

    mutating func enqueue(_ new: [SchedulerEvent], now: Instant) {
        for e in new {
            switch e.type {
            case .offers: offers.append((e, now))
            case .rescind: if let id = e.rescind?.offerId { rescinded.insert(id) }
            case .subscribed:
                offers = []
                rescinded = []
                subscriptionsPending += 1
                events.append(e)
            default: events.append(e)
            }
        }
    }

    /// The next batch: a pending SUBSCRIBED alone; else offers still fresh (up to `maxOffers`) and
    /// up to `max` other events. Offers do not count against `max`: the master makes them an agent
    /// or two at a time, and at 2,000 agents a steady stream of small offer events filled every
    /// turn, so no status update was handled for minutes while launches went on (placement never
    /// finished, and tasks past their launch timeout were replaced by more launches).
    mutating func next(max: Int, now: Instant) -> [SchedulerEvent] {
        if !events.isEmpty, events[0].type == .subscribed {
            subscriptionsPending -= 1
            return Array(events.popFirst(1))
        }
        var batch: [SchedulerEvent] = []
        if subscriptionsPending == 0 {
            var taken = 0
            var offerCount = 0
            for (event, at) in offers {
                guard offerCount < Self.maxOffers else { break }
                taken += 1
                var e = event
                e.offers?.offers.removeAll { rescinded.contains($0.id) }
                let n = e.offers?.offers.count ?? 0
                if now.timeIntervalSince(at) > Self.offerMaxAge {
                    staleOffers += n
                    continue
                }
                offerCount += n
                batch.append(e)
            }
            offers.removeFirst(taken)
            if offers.isEmpty { rescinded = [] }
        }
        var n = 0
        while n < max, n < events.count, events[n].type != .subscribed { n += 1 }
        return batch + events.popFirst(n)
    }
}
