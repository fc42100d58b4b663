import XCTest

@testable import PacerApps

/// Acknowledgements and declines queued while a call of their kind is on its way go out together
/// in the next call, in order, never more than the limit, and one sender runs at a time.
final class CoalescedTests: XCTestCase {
    func testItemsQueuedWhileSendingGoInTheNextCallAndTheSenderStopsWhenEmpty() {
        var q = Coalesced<Int>()
        XCTAssertTrue(q.add([1, 2]), "the first items start a sender")
        XCTAssertFalse(q.add([3]), "one sender at a time")
        XCTAssertEqual(q.next(max: 10), [1, 2, 3])
        XCTAssertFalse(q.add([4, 5, 6]), "still sending: the running sender takes them")
        XCTAssertEqual(q.next(max: 2), [4, 5], "at most the limit per call")
        XCTAssertEqual(q.next(max: 2), [6])
        XCTAssertNil(q.next(max: 2), "nothing left: the sender stops")
        XCTAssertFalse(q.sending)
        XCTAssertFalse(q.add([]), "nothing to send starts nothing")
        XCTAssertTrue(q.add([7]), "a stopped sender is started again")
        XCTAssertEqual(q.next(max: 2), [7])
        XCTAssertNil(q.next(max: 2))
    }
}
