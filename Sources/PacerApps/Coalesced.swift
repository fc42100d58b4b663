/// The items of one kind of call (acknowledgements, declined offers), merged while a call of that
/// kind is on its way: one sender at a time, each call taking everything queued meanwhile. Sent in
/// sequence, these calls held every next batch of status updates behind a round trip to a busy
/// master (20–50 ms of a 100 ms batch, at 2,000 agents); sent by many senders at once, they
/// became many small calls and slowed the master more than they saved.
struct Coalesced<Item> {
    private var pending = HeadQueue<Item>()
    /// A sender is running: added items wait for it.
    private(set) var sending = false

    /// Queues items; true when the caller must start a sender (none is running).
    mutating func add(_ items: some Sequence<Item>) -> Bool {
        pending.append(contentsOf: items)
        guard !sending, !pending.isEmpty else { return false }
        sending = true
        return true
    }

    /// The next call's items (at most `max`), or nil: nothing is left and the sender stops.
    mutating func next(max: Int) -> [Item]? {
        guard !pending.isEmpty else {
            sending = false
            return nil
        }
        return Array(pending.popFirst(min(max, pending.count)))
    }
}
