import PacerModel
import XCTest

@testable import PacerApps

/// REVIVEs are spaced by the size of the cluster: each makes the master offer every agent again.
final class RevivePacingTests: XCTestCase {
    private let t0 = Instant(secondsSince1970: 1_800_000_000)

    /// The wait in seconds (instants are seconds as doubles: compared to a microsecond).
    private func wait(_ p: inout RevivePacing, at s: Double, agents: Int) -> Double {
        p.wait(now: t0.addingTimeInterval(s), agents: agents).seconds
    }

    func testTheFirstGoesAtOnceThoseFollowingAreSpacedByClusterSize() {
        var p = RevivePacing()
        XCTAssertEqual(wait(&p, at: 0, agents: 2_000), 0, accuracy: 1e-6, "after a quiet spell: at once")
        XCTAssertEqual(wait(&p, at: 0.5, agents: 2_000), 1.5, accuracy: 1e-6, "2,000 agents: 2 s apart")
        // Asked for while that one waits: it goes 2 s after the one before, not 2 s after the ask.
        XCTAssertEqual(wait(&p, at: 0.75, agents: 2_000), 3.25, accuracy: 1e-6)
        XCTAssertEqual(wait(&p, at: 60, agents: 2_000), 0, accuracy: 1e-6, "long after: at once again")
    }

    func testSmallClustersAreBarelySpacedAndLargeOnesAtMostTwoSeconds() {
        var small = RevivePacing()
        XCTAssertEqual(wait(&small, at: 0, agents: 3), 0, accuracy: 1e-6)
        XCTAssertEqual(wait(&small, at: 0, agents: 3), 0.003, accuracy: 1e-6)
        var none = RevivePacing()
        XCTAssertEqual(wait(&none, at: 0, agents: 0), 0, accuracy: 1e-6)
        XCTAssertEqual(wait(&none, at: 0, agents: 0), 0, accuracy: 1e-6, "no agent known yet: nothing to space")
        var large = RevivePacing()
        XCTAssertEqual(wait(&large, at: 0, agents: 10_000), 0, accuracy: 1e-6)
        XCTAssertEqual(wait(&large, at: 0, agents: 10_000), 2, accuracy: 1e-6)
    }
}
