import Foundation
import PacerModel
import XCTest

@testable import PacerApps

/// Offers go before a backlog of status updates and rescinded ones are never used (issue 12: behind
/// 40,000 updates every offer expired before use and its launches were dropped and repeated).
final class InboxOrderTests: XCTestCase {
    private let t = Instant(secondsSince1970: 1_700_000_000)

    private func offer(_ id: String) -> Offer {
        Offer(
            id: id, frameworkId: "f", agentId: "a-\(id)", hostname: "h", attributes: [:],
            resources: Resources(cpus: 1, mem: 64, disk: 0))
    }

    private func update(_ n: Int) -> SchedulerEvent {
        .update(TaskStatus(taskId: "t\(n)", agentId: "a", frameworkId: "f", state: .running, uuid: "u\(n)", timestamp: 0))
    }

    private func describe(_ events: [SchedulerEvent]) -> [String] {
        events.map { e in
            switch e.type {
            case .offers: "offers " + (e.offers?.offers.map(\.id) ?? []).joined(separator: ",")
            case .update: e.update?.status.taskId ?? "?"
            case .rescind: "rescind " + (e.rescind?.offerId ?? "")
            case .subscribed: "subscribed"
            default: "\(e.type)"
            }
        }
    }

    func testOffersJumpTheBacklogWithoutRescindedOnesAndNothingCrossesASubscription() {
        var inbox = SchedulerInbox()
        inbox.enqueue((0..<6).map(update) + [.offers([offer("o1"), offer("o2")]), .rescind("o1"), update(6)], now: t)
        XCTAssertEqual(
            describe(inbox.next(max: 4, now: t)), ["offers o2", "t0", "t1", "t2", "t3"],
            "offers first, the rescinded one gone, and four other events")
        inbox.enqueue([.offers([offer("o3")]), .subscribed("f", heartbeat: 5), .offers([offer("o4")]), update(7)], now: t)
        XCTAssertEqual(describe(inbox.next(max: 4, now: t)), ["t4", "t5", "t6"], "offers of the old subscription dropped")
        XCTAssertEqual(describe(inbox.next(max: 4, now: t)), ["subscribed"])
        XCTAssertEqual(describe(inbox.next(max: 4, now: t)), ["offers o4", "t7"], "the new subscription's offers after it")
        XCTAssertTrue(inbox.isEmpty)
    }

    func testOffersThatWaitedTooLongAreDroppedAndATurnTakesABoundedNumber() {
        var inbox = SchedulerInbox()
        inbox.enqueue([.offers([offer("old")])], now: t)
        let later = t.addingTimeInterval(SchedulerInbox.offerMaxAge + 1)
        let many = (0..<(SchedulerInbox.maxOffers + 10)).map { offer("o\($0)") }
        inbox.enqueue(
            [.offers(Array(many.prefix(SchedulerInbox.maxOffers))), .offers(Array(many.dropFirst(SchedulerInbox.maxOffers)))],
            now: later)
        let first = inbox.next(max: 500, now: later)
        XCTAssertEqual(
            first.flatMap { $0.offers?.offers ?? [] }.count, SchedulerInbox.maxOffers,
            "the stale one dropped, one event's worth taken")
        XCTAssertEqual(inbox.staleOffers, 1)
        XCTAssertEqual(inbox.next(max: 500, now: later).flatMap { $0.offers?.offers ?? [] }.count, 10, "the rest next turn")
        XCTAssertTrue(inbox.isEmpty)
    }

    func testALongBacklogIsTakenInOrderInBoundedBatches() {
        var inbox = SchedulerInbox()
        inbox.enqueue((0..<10_000).map(update), now: t)
        var seen: [String] = []
        while !inbox.isEmpty {
            let batch = inbox.next(max: 500, now: t)
            XCTAssertLessThanOrEqual(batch.filter { $0.type == .update }.count, 500)
            seen += describe(batch)
            if seen.count == 5_000 { inbox.enqueue([.offers([offer("o1")]), update(10_000)], now: t) }
        }
        XCTAssertEqual(seen.count, 10_002)
        XCTAssertEqual(seen[5_000], "offers o1", "the offer went before the 5,000 updates still queued")
        XCTAssertEqual(seen.filter { $0.hasPrefix("t") }, (0...10_000).map { "t\($0)" })
    }

    /// The master offers an agent or two at a time: a thousand small offer events ahead of every
    /// turn must not starve the status updates behind them.
    func testAStreamOfSmallOfferEventsDoesNotStarveUpdates() {
        var inbox = SchedulerInbox()
        inbox.enqueue((0..<600).map(update), now: t)
        var handled = 0
        for turn in 0..<3 {
            inbox.enqueue((0..<SchedulerInbox.maxOffers).map { .offers([offer("o\(turn)-\($0)")]) }, now: t)
            let batch = inbox.next(max: 200, now: t)
            XCTAssertEqual(batch.filter { $0.type == .offers }.count, SchedulerInbox.maxOffers)
            handled += batch.filter { $0.type == .update }.count
        }
        XCTAssertEqual(handled, 600, "200 updates a turn, offers or not")
    }
}
