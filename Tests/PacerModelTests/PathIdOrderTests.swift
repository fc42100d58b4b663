import PacerModel
import XCTest

/// `PathId.<` compares bytes instead of building both descriptions; it must order exactly as the
/// descriptions do, including where one segment is a prefix of the other and the next byte is the
/// separator ('-' and '.' sort before '/', digits and letters after it).
final class PathIdOrderTests: XCTestCase {
    func testOrdersAsTheDescriptionsDo() throws {
        let fixed = ["/a/b", "/a-c", "/a", "/a.b", "/ab", "/a/b/c", "/a0", "/a/b-c", "/a/b.c", "/a/bc", "/b", "/a-z/x"]
        var rng = SystemRandomNumberGenerator()
        let ends = Array("ab09")
        let middle = Array("ab09-.")
        func segment() -> String {
            let n = Int.random(in: 1...4, using: &rng)
            if n == 1 { return String(ends.randomElement(using: &rng)!) }
            let inner = (0..<(n - 2)).map { _ in middle.randomElement(using: &rng)! }
            return String([ends.randomElement(using: &rng)!] + inner + [ends.randomElement(using: &rng)!])
        }
        let random = (0..<400).map { _ in
            "/" + (0..<Int.random(in: 1...3, using: &rng)).map { _ in segment() }.joined(separator: "/")
        }
        // Ids the grammar refuses (a "-." or ".." inside a segment) are left out.
        let ids = try fixed.map { raw in try PathId(validating: raw) } + random.compactMap { try? PathId(validating: $0) }
        XCTAssertGreaterThan(ids.count, 200)
        for a in ids {
            for b in ids {
                XCTAssertEqual(a < b, a.description < b.description, "\(a) < \(b)")
            }
        }
        XCTAssertEqual(ids.sorted().map(\.description), ids.map(\.description).sorted())
    }
}
