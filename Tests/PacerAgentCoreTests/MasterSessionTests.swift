import XCTest

@testable import PacerAgentCore

/// An agent's standing with the master: a busy master's timeouts keep the agent heartbeating (its
/// registration, which carries every task, is not sent again); only the master's 404 asks for one.
final class MasterSessionTests: XCTestCase {
    private let interval: Duration = .seconds(20)

    private func registered() -> MasterSession {
        var s = MasterSession()
        XCTAssertEqual(s.call, .register)
        XCTAssertEqual(
            s.after(.answered(status: 200), interval: interval, jitter: 1), .init(call: .heartbeat, master: 0, after: interval))
        XCTAssertTrue(s.registered)
        return s
    }

    func testATimedOutHeartbeatIsRetriedAsAHeartbeatSoonerThanTheInterval() {
        var s = registered()
        var waits: [Duration] = []
        for _ in 1..<MasterSession.maxTimeouts {
            let next = s.after(.timedOut, interval: interval, jitter: 1)
            XCTAssertEqual(next.call, .heartbeat, "a busy master is not sent every task again")
            XCTAssertEqual(next.master, 0)
            waits.append(next.after)
        }
        XCTAssertEqual(waits, [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2)])
        XCTAssertEqual(s.after(.answered(status: 200), interval: interval, jitter: 1).call, .heartbeat)
        XCTAssertEqual(s.state, .registered(timeouts: 0), "an answer ends the streak")
    }

    func testAMasterSilentForMaxTimeoutsIsTakenForGone() {
        var s = registered()
        for _ in 1..<MasterSession.maxTimeouts { _ = s.after(.timedOut, interval: interval, jitter: 0) }
        let next = s.after(.timedOut, interval: interval, jitter: 0)
        XCTAssertEqual(next.call, .register)
        XCTAssertEqual(next.master, 1, "the next master")
        XCTAssertFalse(s.registered)
    }

    func testOnlyTheMastersNotFoundAsksForARegistration() {
        var s = registered()
        XCTAssertEqual(
            s.after(.answered(status: 500), interval: interval, jitter: 0), .init(call: .heartbeat, master: 0, after: interval))
        XCTAssertEqual(
            s.after(.answered(status: 404), interval: interval, jitter: 0), .init(call: .register, master: 0, after: .zero))
    }

    func testARefusedOrLeaderlessMasterSendsTheAgentToTheNextAtOnce() {
        var s = registered()
        let next = s.after(.elsewhere, interval: interval, jitter: 1)
        XCTAssertEqual(next, .init(call: .register, master: 1, after: .milliseconds(250)))
        XCTAssertEqual(s.after(.elsewhere, interval: interval, jitter: 1).master, 2)
    }

    func testFailedRegistrationsBackOffDoublingToACapWithJitter() {
        var s = MasterSession()
        var waits: [Duration] = []
        for _ in 0..<8 { waits.append(s.after(.timedOut, interval: interval, jitter: 1).after) }
        XCTAssertEqual(
            waits,
            [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(8), .seconds(8)]
        )
        XCTAssertEqual(s.master, 0, "a registration that timed out is tried again on the same master")
        var low = MasterSession()
        XCTAssertEqual(low.after(.timedOut, interval: interval, jitter: 0).after, .milliseconds(125), "jitter 0: half the wait")
        // Registered at last: the streak is forgotten.
        XCTAssertEqual(s.after(.answered(status: 200), interval: interval, jitter: 1).after, interval)
        XCTAssertEqual(s.after(.elsewhere, interval: interval, jitter: 1).after, .milliseconds(250))
    }

    func testTheElectionsLeaderIsRegisteredWithAtOnce() {
        var s = registered()
        s.reset(master: 2)
        XCTAssertEqual(s.call, .register)
        XCTAssertEqual(s.master, 2)
        s.answered(by: 1)
        XCTAssertEqual(s.after(.answered(status: 200), interval: interval, jitter: 0).master, 1, "the master that answered")
    }
}
