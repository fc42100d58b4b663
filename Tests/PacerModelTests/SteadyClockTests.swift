import Foundation
import PacerModel
import Synchronization
import XCTest

/// F14: what the cores are told the time is moves with the monotonic clock only.
final class SteadyClockTests: XCTestCase {
    /// A monotonic clock the test moves by hand.
    private final class Hand: Sendable {
        private let offset = Mutex<Duration>(.zero)
        let start = ContinuousClock.now
        func advance(_ d: Duration) { offset.withLock { $0 += d } }
        var now: ContinuousClock.Instant { start + offset.withLock { $0 } }
    }

    func testItAdvancesWithTheMonotonicClockFromTheWallClockAtItsStart() {
        let hand = Hand()
        let wall = Date(timeIntervalSince1970: 1_700_000_000)
        let clock = SteadyClock(wall: wall, monotonic: { hand.now })
        XCTAssertEqual(clock.now, wall)
        hand.advance(.milliseconds(1500))
        XCTAssertEqual(clock.now.timeIntervalSince(wall), 1.5, accuracy: 1e-9)
        // Whatever the wall clock does now (a step of an hour either way) changes nothing here:
        // it is read once, at the start.
        hand.advance(.seconds(10))
        XCTAssertEqual(clock.now.timeIntervalSince(wall), 11.5, accuracy: 1e-9)
    }

    func testTheProcessClockNeverGoesBackwards() {
        var last = SteadyClock.now
        for _ in 0..<1000 {
            let next = SteadyClock.now
            XCTAssertGreaterThanOrEqual(next, last)
            last = next
        }
    }
}
