import XCTest

@testable import PacerLBCore

final class HTTPParserTests: XCTestCase {
    func withBytes<T>(_ s: String, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        try Array(s.utf8).withUnsafeBytes(body)
    }

    func request(_ s: String) throws -> (RequestHead, [HeaderField], String) {
        try withBytes(s) { b in
            guard case .complete(let start, let end) = HeadScanner.scan(b, limits: HeadLimits()) else {
                throw HTTPError.bad("incomplete")
            }
            var fields: [HeaderField] = []
            var tokens: [Range<Int>] = []
            let head = try RequestHead.parse(b, start..<end, limits: HeadLimits(), fields: &fields, connectionTokens: &tokens)
            var out: [UInt8] = []
            HeadWriter.request(
                b, head, fields, forwarding: .init(clientAddress: "10.0.0.1", proto: "http", port: 80), tunnel: false, into: &out)
            return (head, fields, String(decoding: out, as: UTF8.self))
        }
    }

    func status(_ s: String) -> Int? {
        do {
            _ = try request(s)
            return nil
        } catch let e as HTTPError { return e.status } catch { return -1 }
    }

    func testScannerResumesAndSkipsLeadingEmptyLines() {
        withBytes("\r\nGET / HTTP/1.1\r\nHost: a\r\n") { b in
            XCTAssertEqual(HeadScanner.scan(b, limits: HeadLimits()), .incomplete(resume: b.count))
        }
        withBytes("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\nrest") { b in
            XCTAssertEqual(HeadScanner.scan(b, from: 18, limits: HeadLimits()), .complete(start: 2, end: b.count - 4))
        }
        var small = HeadLimits()
        small.requestLine = 64
        withBytes("GET /" + String(repeating: "a", count: 100)) { b in
            XCTAssertEqual(HeadScanner.scan(b, limits: small), .invalid(HTTPError(414, "request line longer than 64 bytes")))
        }
    }

    func testForwardedHeadDropsHopByHopAndAddsTheProxysOwn() throws {
        let (head, _, out) = try request(
            "POST /p?q=1 HTTP/1.1\r\nHost: A.example\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\n"
                + "X-Forwarded-For: 1.2.3.4\r\nContent-Length: 3\r\nContent-Length: 3\r\nCookie: a=b\r\n\r\n")
        XCTAssertEqual(head.body, .length(3))
        XCTAssertFalse(head.wantsClose)
        XCTAssertEqual(
            out,
            "POST /p?q=1 HTTP/1.1\r\nHost: A.example\r\nContent-Length: 3\r\nCookie: a=b\r\n"
                + "x-forwarded-for: 10.0.0.1\r\nx-forwarded-proto: http\r\nx-forwarded-port: 80\r\n\r\n")
    }

    func testConnectionSemanticsPerVersion() throws {
        XCTAssertTrue(try request("GET / HTTP/1.0\r\n\r\n").0.wantsClose)
        XCTAssertFalse(try request("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").0.wantsClose)
        XCTAssertTrue(try request("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").0.wantsClose)
        XCTAssertEqual(
            try request("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\nConnection: upgrade\r\n\r\n").0.upgrade, .websocket)
        XCTAssertEqual(
            try request("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n").0.upgrade, .none,
            "Upgrade needs Connection: upgrade")
    }

    func testStatusesForRefusedRequests() {
        XCTAssertEqual(status("GET / HTTP/1.1\r\n\r\n"), 400)
        XCTAssertEqual(status("PURGE / HTTP/1.1\r\nHost: a\r\n\r\n"), nil, "forwarded: the origin decides")
        XCTAssertEqual(status("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"), 501)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: a\r\nExpect: tea\r\n\r\n"), 417)
        XCTAssertEqual(status("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), nil)
        XCTAssertEqual(status("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), 400)
        XCTAssertEqual(status("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"), nil)
        var many = "GET / HTTP/1.1\r\nHost: a\r\n"
        for i in 0..<100 { many += "X-\(i): v\r\n" }
        XCTAssertEqual(status(many + "\r\n"), 431)
    }

    func testResponseFraming() throws {
        func response(_ s: String, head: Bool = false) throws -> ResponseHead {
            try withBytes(s) { b in
                guard case .complete(let start, let end) = HeadScanner.scan(b, limits: HeadLimits(), isRequest: false) else {
                    throw HTTPError.bad("incomplete")
                }
                var fields: [HeaderField] = []
                var tokens: [Range<Int>] = []
                return try ResponseHead.parse(
                    b, start..<end, limits: HeadLimits(), isHead: head, fields: &fields, connectionTokens: &tokens)
            }
        }
        XCTAssertEqual(try response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n").body, .length(5))
        XCTAssertEqual(try response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", head: true).body, .none)
        XCTAssertEqual(try response("HTTP/1.1 204 No Content\r\n\r\n").body, .none)
        XCTAssertEqual(try response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").body, .chunked)
        let eof = try response("HTTP/1.1 200 OK\r\n\r\n")
        XCTAssertEqual(eof.body, .untilClose)
        XCTAssertTrue(eof.closes)
        XCTAssertTrue(try response("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n").closes)
        XCTAssertEqual(try response("HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n").status, 200, "reason phrase is optional")
        XCTAssertThrowsError(try response("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"))
        XCTAssertThrowsError(try response("HTTP/1.1 20 OK\r\n\r\n"))
    }

    /// The decoder finds the same end whatever the segment boundaries.
    func testChunkedDecoderAcrossEverySplit() throws {
        let body = Array("4;a=b\r\nwiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\n".utf8)
        let trailing = Array("GET /next".utf8)
        let all = body + trailing
        for split in 0...all.count {
            var d = ChunkedDecoder()
            var consumed = try all[..<split].withUnsafeBytes { try d.advance($0) }
            if !d.isDone { consumed += try all[split...].withUnsafeBytes { try d.advance($0) } }
            XCTAssertTrue(d.isDone, "split at \(split)")
            XCTAssertEqual(consumed, body.count, "split at \(split)")
        }
        for bad in ["0x1\r\n", "+1\r\n", " 0\r\n", "1;x\r\r", "11111111111111111\r\n", "2\r\nabc\r\n", "0\r\n\n"] {
            var d = ChunkedDecoder()
            XCTAssertThrowsError(try Array(bad.utf8).withUnsafeBytes { try d.advance($0) }, bad.debugDescription)
        }
    }

    /// RFC 9112 §7.1.1's chunk-ext grammar: names are tokens, values tokens or quoted strings, BWS
    /// around `;` and `=`; an empty name (`5;`) or junk is refused rather than forwarded.
    func testChunkExtensionsFollowTheGrammar() throws {
        func accepts(_ sizeLine: String) -> Bool {
            var d = ChunkedDecoder()
            let body = Array((sizeLine + "\r\nhello\r\n0\r\n\r\n").utf8)
            guard let n = try? body.withUnsafeBytes({ try d.advance($0) }) else { return false }
            return d.isDone && n == body.count
        }
        for good in ["5", "5;a", "5;a=b", "5 ; a = b", "5;a=\"x y\";b", "5;a=\"q\\\"uote\"", "5;a;b=c;d", "5\t;a"] {
            XCTAssertTrue(accepts(good), good.debugDescription)
        }
        for bad in ["5;", "5; ", "5;;a", "5;a=", "5;=b", "5;a=\"open", "5;a b", "5;a=b c", "5;a=\"x\u{1}\"", "5;a=(b)", "5;a=b;"]
        {
            XCTAssertFalse(accepts(bad), bad.debugDescription)
        }
    }

    /// A proxy forwards any valid method token (WebDAV, cache purges, QUERY): only the origin says 501.
    func testUnknownMethodsAreForwardedButNotCONNECT() throws {
        for method in ["REPORT", "SEARCH", "PURGE", "QUERY", "M-SEARCH", "LINK", "PROPFIND", "BREW", "get"] {
            let (head, _, out) = try request("\(method) /r HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
            XCTAssertEqual(head.knownMethod, .other, method)
            XCTAssertFalse(head.knownMethod.isIdempotent, "\(method): never retried")
            XCTAssertTrue(out.hasPrefix("\(method) /r HTTP/1.1\r\n"), out)
        }
        XCTAssertEqual(try request("GET / HTTP/1.1\r\nHost: a\r\n\r\n").0.knownMethod, .get)
        XCTAssertEqual(status("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n"), 501, "no tunnels through a reverse proxy")
        XCTAssertEqual(status("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n"), 501)
        XCTAssertEqual(status("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), nil, "RFC 9112 §2.2: a leading empty line is ignored")
    }
}
