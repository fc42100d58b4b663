import Foundation
import PacerTestKit
import XCTest

/// Every hostile or malformed request of docs/RELIABILITY.md (B1–B26) sent over a raw socket to
/// `pacer lb`, in front of a real backend that records what reaches it.
final class BadHTTPInputTests: HTTPTestCase {
    struct Case {
        var id: String
        var bytes: [UInt8]
        /// Acceptable statuses of the (first) answer.
        var statuses: Set<Int>
    }

    static func req(_ s: String) -> [UInt8] { Array(s.utf8) }
    static let ok = "Host: app.example\r\n"

    /// Inputs that must be refused: the answer is one of `statuses`, the connection is closed and
    /// the backend receives nothing.
    static let refused: [Case] = {
        var c: [Case] = []
        func add(_ id: String, _ s: String, _ statuses: Set<Int> = [400]) {
            c.append(Case(id: id, bytes: req(s), statuses: statuses))
        }
        add("B1 CL+TE", "POST / HTTP/1.1\r\n\(ok)Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        add("B1 TE+CL", "POST / HTTP/1.1\r\n\(ok)Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n")
        add("B2 two CL", "POST / HTTP/1.1\r\n\(ok)Content-Length: 1\r\nContent-Length: 0\r\n\r\nx")
        for v in ["+1", "-1", "0x10", "1Z", "1_0", "", "1, 2", "99999999999999999999999"] {
            add("B3 CL '\(v)'", "POST / HTTP/1.1\r\n\(ok)Content-Length: \(v)\r\n\r\nx")
        }
        for size in [
            "0x1", "+1", "-0", "0_2e", " 0", "11111111111111111", "1;ext\r\r", "1;", "1;;a", "1;a b", "1;a=", "1;a=\"open"
        ] {
            add(
                "B4 chunk '\(size.debugDescription)'",
                "POST / HTTP/1.1\r\n\(ok)Transfer-Encoding: chunked\r\n\r\n\(size)\r\nx\r\n0\r\n\r\n")
        }
        for te in [",chunked", "chunked, gzip", "gzip, chunked", "xchunked", "\u{a0}chunked", "identity"] {
            add("B5 TE '\(te)'", "POST / HTTP/1.1\r\n\(ok)Transfer-Encoding: \(te)\r\n\r\n0\r\n\r\n", [400, 501])
        }
        add("B6 two TE", "POST / HTTP/1.1\r\n\(ok)Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        add("B7 obs-fold", "GET / HTTP/1.1\r\n\(ok)X-A: one\r\n two\r\n\r\n")
        add("B8 space before colon", "POST / HTTP/1.1\r\n\(ok)Content-Length : 1\r\n\r\nx")
        add("B9 NUL in value", "GET / HTTP/1.1\r\n\(ok)X-A: ab\0cd\r\n\r\n")
        add("B9 bare CR in value", "GET / HTTP/1.1\r\n\(ok)X-A: ab\rX-B: cd\r\n\r\n")
        add("B10 bare LF", "GET / HTTP/1.1\n\(ok.replacingOccurrences(of: "\r\n", with: "\n"))\n")
        add("B10 bare LF in headers", "GET / HTTP/1.1\r\n\(ok)X-A: b\n\r\n")
        add("B11 no colon", "GET / HTTP/1.1\r\n\(ok)NoColon\r\n\r\n")
        add("B11 empty name", "GET / HTTP/1.1\r\n\(ok): x\r\n\r\n")
        add("B11 name with 0x85", "GET / HTTP/1.1\r\n\(ok)X\u{85}A: x\r\n\r\n")
        add("B11 name with @", "GET / HTTP/1.1\r\n\(ok)X@A: x\r\n\r\n")
        add("B11 name with space", "GET / HTTP/1.1\r\n\(ok)X A: x\r\n\r\n")
        add("B11 tab before first header", "GET / HTTP/1.1\r\n\tX-A: x\r\n\(ok)\r\n")
        add("B12 no Host", "GET / HTTP/1.1\r\n\r\n")
        add("B12 two Host", "GET / HTTP/1.1\r\n\(ok)\(ok)\r\n")
        add("B12 Host with NUL", "GET / HTTP/1.1\r\nHost: app\0.example\r\n\r\n")
        add("B12 Host with space", "GET / HTTP/1.1\r\nHost: app example\r\n\r\n")
        add("B12 Host with userinfo", "GET / HTTP/1.1\r\nHost: evil@app.example\r\n\r\n")
        add("B12 absolute-form", "GET http://evil/ HTTP/1.1\r\n\(ok)\r\n")
        add("B13 HTTP/1.32", "GET / HTTP/1.32\r\n\(ok)\r\n", [400, 505])
        add("B13 HTTP/4294967295.255", "GET / HTTP/4294967295.255\r\n\(ok)\r\n", [400, 505])
        add("B13 CRs in version", "GET / HTTP/\r\r1.1\r\n\(ok)\r\n")
        add("B13 lowercase", "GET / http/1.1\r\n\(ok)\r\n")
        add("B13 HTTP/2.0", "GET / HTTP/2.0\r\n\(ok)\r\n", [400, 505])
        add("B14 junk method", "G=\":<>(e),[T];? / HTTP/1.1\r\n\(ok)\r\n")
        add("B14 NUL method", "G\0T / HTTP/1.1\r\n\(ok)\r\n")
        add("B14 target !", "GET ! HTTP/1.1\r\n\(ok)\r\n")
        add("B14 CTL in target", "GET /a\u{1}b HTTP/1.1\r\n\(ok)\r\n")
        add("B14 LF in request line", "GET /\nHTTP/1.1\r\n\(ok)\r\n")
        add("B14 CONNECT (no tunnels through a reverse proxy)", "CONNECT / HTTP/1.1\r\n\(ok)\r\n", [501])
        add("B15 64 KB header line", "GET / HTTP/1.1\r\n\(ok)X-Big: \(String(repeating: "a", count: 65536))\r\n\r\n", [431])
        add(
            "B15 1 MB head",
            "GET / HTTP/1.1\r\n\(ok)" + String(repeating: "X-A: \(String(repeating: "b", count: 1000))\r\n", count: 1000)
                + "\r\n", [431])
        add("B15 10000 headers", "GET / HTTP/1.1\r\n\(ok)" + String(repeating: "X-A: b\r\n", count: 10000) + "\r\n", [431])
        add("B15 100 KB request line", "GET /\(String(repeating: "a", count: 100_000)) HTTP/1.1\r\n\(ok)\r\n", [414])
        add("B19 HTTP/1.0 with TE", "POST / HTTP/1.0\r\n\(ok)Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n")
        add("B19 HTTP/1.0 with TE only", "POST / HTTP/1.0\r\n\(ok)Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        add(
            "B20 Expect with oversized CL", "POST / HTTP/1.1\r\n\(ok)Expect: 100-continue\r\nContent-Length: 999999999\r\n\r\n",
            [413])
        add("B23 Host port out of range", "GET / HTTP/1.1\r\nHost: app.example:99999\r\n\r\n")
        return c
    }()

    func testEveryRefusedInputIsAnsweredClosedAndNeverForwarded() throws {
        XCTAssertEqual(received().count, 0)
        for c in Self.refused {
            let exchange = RawHTTP.send(port, [c.bytes])
            XCTAssertTrue(
                c.statuses.contains(exchange.statuses.first ?? -1),
                "\(c.id): got \(exchange.statuses) \(String(decoding: exchange.raw.prefix(120), as: UTF8.self).debugDescription)")
            XCTAssertEqual(exchange.responses.count, 1, "\(c.id): exactly one answer")
            XCTAssertTrue(exchange.closed, "\(c.id): connection closed")
            XCTAssertEqual(exchange.responses.first?.header("connection"), "close", c.id)
            XCTAssertEqual(received().count, 0, "\(c.id): the backend saw nothing")
        }
    }

    /// The same inputs on the shared virtual-host listener.
    func testRefusedOnTheVirtualHostListenerToo() throws {
        for c in Self.refused where !c.id.hasPrefix("B15") {
            let exchange = RawHTTP.send(lb.httpPort, [c.bytes])
            XCTAssertTrue(c.statuses.contains(exchange.statuses.first ?? -1), "\(c.id): got \(exchange.statuses)")
            XCTAssertTrue(exchange.closed, c.id)
        }
        XCTAssertEqual(received().count, 0)
    }
}
