import PacerModel
import XCTest

/// Label values in the exposition format escape backslash, double quote and newline, and nothing
/// else; values needing none come back as they are.
final class PrometheusTextTests: XCTestCase {
    func testLabelValuesEscapeBackslashQuoteAndNewlineOnly() {
        XCTAssertEqual(PrometheusText.escape("/shop/web-1"), "/shop/web-1")
        XCTAssertEqual(PrometheusText.escape(""), "")
        XCTAssertEqual(PrometheusText.escape("a\\b"), "a\\\\b")
        XCTAssertEqual(PrometheusText.escape("say \"hi\""), "say \\\"hi\\\"")
        XCTAssertEqual(PrometheusText.escape("two\nlines\tand ünïcode"), "two\\nlines\tand ünïcode")
        var out = PrometheusText()
        out.family("m", "gauge", "help", [([("app", "/a\"b")], "1"), ([], "2")])
        XCTAssertEqual(out.text, "# HELP m help\n# TYPE m gauge\nm{app=\"/a\\\"b\"} 1\nm 2\n")
    }
}
