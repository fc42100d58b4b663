import Foundation
import NIOCore
import PacerClient
import XCTest

/// The master's event stream is cut into lines however its chunks fall: lines across chunk
/// borders are joined, several in one chunk all come out in order, empty lines are skipped, and a
/// line longer than the limit is an error rather than unbounded memory.
final class LineSplitterTests: XCTestCase {
    func testLinesAreCutWhereverTheChunksFall() throws {
        var s = LineSplitter()
        XCTAssertEqual(try s.feed(ByteBuffer(string: "{\"a\":1}\n{\"b\"")), [Data("{\"a\":1}".utf8)])
        XCTAssertEqual(
            try s.feed(ByteBuffer(string: ":2}\n\n{\"c\":3}\n{\"d\":4}\n{\"e")),
            ["{\"b\":2}", "{\"c\":3}", "{\"d\":4}"].map { Data($0.utf8) })
        XCTAssertEqual(try s.feed(ByteBuffer(string: "\":5}")), [])
        XCTAssertEqual(try s.feed(ByteBuffer(string: "\n")), [Data("{\"e\":5}".utf8)])
        let many = (0..<1_000).map { "{\"n\":\($0)}\n" }.joined()
        XCTAssertEqual(try s.feed(ByteBuffer(string: many)).count, 1_000)
    }

    func testALineLongerThanTheLimitIsAnError() {
        var s = LineSplitter()
        let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: LineSplitter.maxLine + 1)
        XCTAssertThrowsError(try s.feed(chunk))
    }
}
