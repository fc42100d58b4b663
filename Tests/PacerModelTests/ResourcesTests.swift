import PacerModel
import XCTest

/// Port ranges are merged and subtracted as ranges (issue 12: expanding them made ledgers slow);
/// checked here against the obvious port-by-port answer.
final class ResourcesTests: XCTestCase {
    func ports(_ rs: [PortRange]) -> Set<Int> { Set(rs.flatMap { $0.count > 0 ? Array($0.begin...$0.end) : [] }) }

    func testNormalizeAndSubtractAgreeWithPortByPortSets() {
        var rng = SeededRandom(seed: 7)
        func ranges() -> [PortRange] {
            (0..<Int(rng.next() % 5)).map { _ in
                let b = 31000 + Int(rng.next() % 60)
                return PortRange(b, b + Int(rng.next() % 8) - 1)  // some empty (end < begin)
            }
        }
        for _ in 0..<2000 {
            let a = ranges()
            let b = ranges()
            let merged = PortRange.normalize(a)
            XCTAssertEqual(ports(merged), ports(a))
            XCTAssertTrue(
                zip(merged, merged.dropFirst()).allSatisfy { $0.end + 1 < $1.begin }, "sorted, disjoint, not adjacent: \(merged)")
            XCTAssertEqual(ports(PortRange.subtract(b, from: a)), ports(a).subtracting(ports(b)))
            let ra = Resources(cpus: 1, ports: a)
            let rb = Resources(ports: b)
            XCTAssertEqual(ports((ra + rb).ports), ports(a).union(ports(b)))
            XCTAssertEqual(ports((ra - rb).ports), ports(a).subtracting(ports(b)))
            XCTAssertEqual(ra.contains(rb), ports(b).isSubset(of: ports(a)))
        }
    }
}
