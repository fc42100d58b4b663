import Foundation
import XCTest

@testable import PacerModel

/// The hand-written timestamp writer against Foundation's ISO-8601 format style, byte for byte.
final class TimestampTests: XCTestCase {
    private let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    func testTheSameTextAsTheFormatStyle() {
        var rng = SystemRandomNumberGenerator()
        var dates: [Double] = [
            0, 0.001, 0.999, 951_782_400, 951_868_799.999, 1_700_000_000.001, 4_102_444_800, 253_402_300_799.999
        ]
        // Leap days, year and century ends, and the milliseconds' edges, across the range.
        for year in stride(from: 1970, to: 9999, by: 37) {
            let start = Double(year - 1970) * 365.2425 * 86_400
            dates += [start, start + 0.0005, start + 59 * 86_400 + 0.001, start - 0.001]
        }
        for _ in 0..<100_000 { dates.append(Double.random(in: 0..<4_102_444_800, using: &rng)) }
        for _ in 0..<20_000 { dates.append(Double(Int.random(in: 0..<4_102_444_800_000, using: &rng)) / 1000) }
        for t in dates where t >= 0 {
            let date = Date(timeIntervalSince1970: t)
            XCTAssertEqual(Timestamp.string(date), date.formatted(style), "at \(t)")
        }
    }

    func testOutsideTheWrittenRangeTheFormatStyleWrites() {
        let before = Date(timeIntervalSince1970: -86_400.5)
        XCTAssertEqual(Timestamp.string(before), before.formatted(style))
    }

    func testInstantsPrintAsTheMillisecondTheyName() {
        XCTAssertEqual(Timestamp.string(Instant(Date(timeIntervalSince1970: 1_700_000_000.001))), "2023-11-14T22:13:20.001Z")
    }
}
