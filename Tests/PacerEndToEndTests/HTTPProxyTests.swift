import Foundation
import PacerClient
import PacerTestKit
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// HTTP mode through a real `pacer lb` to a real recording backend: routing, forwarding headers,
/// framing, pipelining, deadlines, upgrades, bad backends, big bodies.
final class HTTPProxyTests: HTTPTestCase {
    func get(_ port: Int, _ path: String = "/", host: String = "app.example", headers: String = "") -> RawHTTP.Exchange {
        RawHTTP.send(port, "GET \(path) HTTP/1.1\r\nHost: \(host)\r\n\(headers)Connection: close\r\n\r\n")
    }

    func testRoutesByServicePortAndByNormalizedVirtualHost() throws {
        XCTAssertEqual(get(port).statuses, [200])
        XCTAssertEqual(get(lb.httpPort, host: "APP.Example.").statuses, [200], "B23: case and trailing dot normalized")
        XCTAssertEqual(get(lb.httpPort, host: "app.example:80").statuses, [200])
        XCTAssertEqual(get(lb.httpPort, host: "other.example").statuses, [404], "B23: unknown host is not sent anywhere")
        XCTAssertEqual(get(lb.httpPort, host: "evil@app.example").statuses, [400])
        XCTAssertEqual(received().count, 3)
    }

    /// Any valid method token reaches the backend, which answers for itself (RFC 9110 §9.1: only
    /// the origin decides 501); an empty line before a request is ignored (RFC 9112 §2.2).
    func testUnknownMethodsAndLeadingEmptyLinesAreForwarded() throws {
        let methods = ["REPORT", "SEARCH", "PURGE", "QUERY", "M-SEARCH", "LINK", "PROPFIND", "BREW"]
        for method in methods {
            let r = RawHTTP.send(
                port, "\(method) /m HTTP/1.1\r\nHost: app.example\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
            XCTAssertEqual(r.statuses, [200], method)
            XCTAssertEqual(received().last?.line, "\(method) /m HTTP/1.1")
            XCTAssertEqual(received().last?.body, "hi", method)
        }
        let r = RawHTTP.send(port, "\r\nGET /after-empty-line HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\n\r\n")
        XCTAssertEqual(r.statuses, [200])
        XCTAssertEqual(received().last?.line, "GET /after-empty-line HTTP/1.1")
        let pipelined = RawHTTP.send(
            port,
            "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx\r\nGET /q HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
        XCTAssertEqual(pipelined.statuses, [200, 200], "the CRLF an old client adds after a body is skipped")
        XCTAssertEqual(received().suffix(2).map(\.line), ["POST /p HTTP/1.1", "GET /q HTTP/1.1"])
        XCTAssertEqual(received().count, methods.count + 3)
    }

    /// marathon-lb's admin endpoints that deploy tools call, on the admin port.
    func testMarathonLBAdminEndpoints() async throws {
        let admin = lb.adminURL
        let http = HTTPTransport()
        let vhosts = try await http.expectOK(.GET, admin + "/_haproxy_getvhostmap").text
        XCTAssertEqual(Set(vhosts.split(separator: "\n")), ["app.example rec_\(port)", "ws.example rec_\(port + 1)"])
        let apps = try await http.expectOK(.GET, admin + "/_haproxy_getappmap").text
        XCTAssertEqual(apps, "/rec rec_\(port)\n/rec rec_\(port + 1)\n")
        let config = try await http.expectOK(.GET, admin + "/_haproxy_getconfig").text
        XCTAssertTrue(config.contains("backend rec_\(port)\n"), config)
        XCTAssertTrue(config.contains("server 127_0_0_1_\(backendPort) 127.0.0.1:\(backendPort)\n"), config)
        XCTAssertTrue(config.contains("acl host_app_example_\(port) hdr(host) -i app.example"), config)
        struct Stats: Decodable {
            struct Framework: Decodable { var syncs: Int }
            var framework: Framework
            var version: Int
        }
        func stats() async throws -> Stats {
            try JSONDecoder().decode(Stats.self, from: try await http.expectOK(.GET, admin + "/stats").body)
        }
        for signal in ["hup", "usr1"] {
            let before = try await stats()
            let r = try await http.send(.POST, admin + "/_mlb_signal/\(signal)")
            XCTAssertEqual(r.status, 200, r.text)
            // A resync re-reads every app from the framework; nothing changed, so the table keeps its version.
            try await Eventually.that("\(signal): a resync happened", within: 5) {
                try await stats().framework.syncs > before.framework.syncs
            }
            let after = try await stats()
            XCTAssertEqual(after.version, before.version)
        }
        let unknown = try await http.send(.POST, admin + "/_mlb_signal/kill")
        XCTAssertEqual(unknown.status, 404)
    }

    func testForwardedHeadersAreTheProxysOwn() throws {
        // B21 spoofed X-Forwarded-*, Forwarded, X-Real-IP; B22 a client naming LB headers hop-by-hop.
        let spoof =
            "X-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n"
            + "X-Forwarded-Port: 1\r\nX-Forwarded-Host: evil\r\nKeep-Alive: 5\r\nX-Private: secret\r\nTE: trailers\r\n"
        let r = RawHTTP.send(
            port, "GET / HTTP/1.1\r\nHost: app.example\r\n\(spoof)Connection: close, X-Forwarded-For, X-Private\r\n\r\n")
        XCTAssertEqual(r.statuses, [200])
        let rec = try XCTUnwrap(received().last)
        XCTAssertEqual(rec.header("x-forwarded-for"), ["127.0.0.1"])
        XCTAssertEqual(rec.header("x-forwarded-proto"), ["http"])
        XCTAssertEqual(rec.header("x-forwarded-port"), ["\(port)"])
        for gone in ["forwarded", "x-real-ip", "x-forwarded-host", "keep-alive", "x-private", "te", "connection"] {
            XCTAssertEqual(rec.header(gone), [], "\(gone) not forwarded")
        }
        XCTAssertEqual(rec.header("host"), ["app.example"])
    }

    func testPipelinedRequestsAreAnsweredInOrderAndAnInvalidOneEndsTheConnection() throws {
        let two = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        let r = RawHTTP.send(port, two)
        XCTAssertEqual(r.statuses, [200, 200])
        XCTAssertEqual(received().map(\.line), ["GET /1 HTTP/1.1", "GET /2 HTTP/1.1"])
        let bad = RawHTTP.send(
            port,
            "GET /3 HTTP/1.1\r\nHost: a\r\n\r\nGET /4 HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\nGET /5 HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(bad.statuses, [200, 400], "B17: the good one answered, then 400")
        XCTAssertTrue(bad.closed)
        XCTAssertEqual(
            received().map(\.line).suffix(1), ["GET /3 HTTP/1.1"], "nothing after the invalid request reached the backend")
        let partial = RawHTTP.send(port, "GET /6 HTTP/1.1\r\nHost: a\r\n\r\nGET /7 HTT", timeout: 1)
        XCTAssertEqual(partial.statuses, [200])
        XCTAssertEqual(received().last?.line, "GET /6 HTTP/1.1")
    }

    func testBodiesAreForwardedWithTheirFraming() throws {
        // B18: GET with a body keeps its body and length; CL is decimal (010 = 10).
        XCTAssertEqual(
            RawHTTP.send(port, "GET /g HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody").statuses, [200]
        )
        XCTAssertEqual(received().last?.body, "body")
        XCTAssertEqual(received().last?.header("content-length"), ["4"])
        XCTAssertEqual(
            RawHTTP.send(port, "POST /d HTTP/1.1\r\nHost: a\r\nContent-Length: 010\r\nConnection: close\r\n\r\n0123456789")
                .statuses, [200])
        XCTAssertEqual(received().last?.body, "0123456789")
        let chunked =
            "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            + "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
        XCTAssertEqual(RawHTTP.send(port, chunked).statuses, [200])
        XCTAssertEqual(received().last?.body, "hello world")
        // Expect: 100-continue within the limit is passed to the backend, which decides.
        let expect = RawHTTP.send(
            port, "POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        XCTAssertEqual(expect.statuses.last, 200)
        // A body over the limit: 413 before anything is forwarded.
        let before = received().count
        XCTAssertEqual(RawHTTP.send(port, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \(2 << 20)\r\n\r\nxx").statuses, [413])
        XCTAssertEqual(received().count, before)
    }

    func testSlowHeadersGet408AtTheDeadline() throws {
        // B16: one byte every 0.5 s never completes a head; the 2 s deadline ends it.
        let started = Date()
        let bytes = Array("GET / HTTP/1.1\r\nHost: app.example\r\nX-Slow: aaaaaaaaaaaaaaaa".utf8).map { [$0] }
        let r = RawHTTP.send(port, bytes, gap: 0.25, timeout: 10)
        XCTAssertEqual(r.statuses, [408])
        XCTAssertTrue(r.closed)
        XCTAssertLessThan(Date().timeIntervalSince(started), 6)
        XCTAssertEqual(received().count, 0)
        // An idle connection that never sends anything is closed silently at the same deadline.
        let idle = RawHTTP.send(port, [[]], timeout: 10)
        XCTAssertTrue(idle.closed)
        XCTAssertEqual(idle.statuses, [])
    }

    func testUpgradesPassOnlyWhereAllowed() throws {
        // B24: h2c smuggling attempt: Upgrade and HTTP2-Settings stripped, answered as HTTP/1.1.
        let h2c = get(
            port, headers: "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nConnection: Upgrade, HTTP2-Settings\r\n")
        XCTAssertEqual(h2c.statuses, [200])
        XCTAssertEqual(received().last?.header("upgrade"), [])
        XCTAssertEqual(received().last?.header("http2-settings"), [])
        // WebSocket on a route without HAPROXY_0_WEBSOCKET: not upgraded.
        let ws =
            "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            + "Sec-WebSocket-Version: 13\r\n\r\n"
        let refused = RawHTTP.send(port, ws + "", timeout: 2)
        XCTAssertEqual(refused.statuses, [200])
        // On the route that allows it: 101, then a byte tunnel both ways.
        let r = RawHTTP.send(port + 1, [Array(ws.utf8), Array("hello tunnel".utf8)], gap: 0.3, timeout: 2)
        XCTAssertEqual(r.statuses, [101])
        XCTAssertTrue(String(decoding: r.raw, as: UTF8.self).hasSuffix("hello tunnel"), String(decoding: r.raw, as: UTF8.self))
        XCTAssertEqual(r.responses.first?.header("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    func testMalformedResponsesBecome502AndTheirConnectionsAreNotReused() throws {
        // B25, each on a keep-alive connection followed by a good request.
        for kind in ["cl-te", "two-cl", "bare-lf", "crlf-value", "early-close", "no-answer"] {
            let r = RawHTTP.send(port, "GET /bad/\(kind) HTTP/1.1\r\nHost: a\r\n\r\n")
            if kind == "early-close" {
                // The head was fine and already sent: the client sees the body cut short by a close.
                XCTAssertEqual(r.statuses, [200], kind)
                XCTAssertTrue(r.closed, kind)
            } else {
                XCTAssertEqual(r.statuses, [502], "\(kind): \(String(decoding: r.raw.prefix(200), as: UTF8.self))")
            }
            let badConn = received().last?.conn
            XCTAssertEqual(get(port, "/after").statuses, [200], kind)
            XCTAssertNotEqual(received().last?.conn, badConn, "\(kind): a fresh connection after a bad response")
        }
    }

    func testGatewayErrors() async throws {
        // A backend that does not answer in time: 504.
        let slow = RawHTTP.send(port, "GET /slow/5 HTTP/1.1\r\nHost: a\r\n\r\n", timeout: 10)
        XCTAssertEqual(slow.statuses, [504])
        // No backend at all: 503.
        try await client.scale(id("/rec"), instances: 0, force: true)
        try await Eventually.that("no backends") { try await self.backends(self.port).isEmpty }
        XCTAssertEqual(get(port).statuses, [503])
        XCTAssertEqual(get(lb.httpPort).statuses, [503])
    }

    func testLargeBodiesStreamWithBoundedMemory() throws {
        let rssBefore = lb.process.residentBytes
        // 256 MiB down, read as it comes.
        let size = 256 << 20
        guard let fd = Loopback.connect(port, receiveTimeout: 20) else { return XCTFail("connect") }
        defer { close(fd) }
        let request = Array("GET /big/\(size) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var peak = 0
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            total += n
            if total % (32 << 20) < n { peak = max(peak, lb.process.residentBytes) }
        }
        XCTAssertGreaterThan(total, size)
        XCTAssertLessThan(
            peak - rssBefore, 64 << 20, "the LB streamed instead of buffering (RSS +\((peak - rssBefore) >> 20) MiB)")
        // 8 MiB up, chunked, echoed back.
        let body = String(repeating: "0123456789abcdef", count: (8 << 20) / 16)
        let chunks = stride(from: 0, to: body.utf8.count, by: 1 << 16).map { i -> String in
            let end = min(i + (1 << 16), body.utf8.count)
            return String(end - i, radix: 16) + "\r\n" + String(body.utf8.dropFirst(i).prefix(end - i))! + "\r\n"
        }
        let up = RawHTTP.send(
            port,
            [Array("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".utf8)]
                + chunks.map { Array($0.utf8) } + [Array("0\r\n\r\n".utf8)], timeout: 20)
        XCTAssertEqual(up.statuses, [200])
        XCTAssertEqual(up.responses.first?.body.count, 8 << 20)
        // Sized bodies many times the LB's buffer (64 KiB here), sent in one go: paused and resumed.
        for size in [300_000, 1 << 20, 900_001] {
            let data = Array(repeating: UInt8(ascii: "z"), count: size)
            let sized = RawHTTP.send(
                port,
                [Array("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: \(size)\r\nConnection: close\r\n\r\n".utf8) + data],
                timeout: 10)
            XCTAssertEqual(sized.statuses, [200], "\(size)")
            XCTAssertEqual(sized.responses.first?.body.count, size)
        }
    }

    func testAbruptClientsLeakNoDescriptors() throws {
        // B26 on the HTTP path: zero-byte connections, resets mid-request, half a body then gone.
        XCTAssertEqual(get(port).statuses, [200])
        let before = lb.openDescriptors
        for i in 0..<150 {
            guard let fd = Loopback.connect(port) else { continue }
            if i % 3 == 1 {
                _ = Array("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc".utf8).withUnsafeBytes {
                    send(fd, $0.baseAddress, $0.count, 0)
                }
            }
            if i % 3 == 2 {
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)  // close with RST
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                _ = Array("GET / HTTP/1.1\r\nHo".utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            }
            close(fd)
        }
        let deadline = Date().addingTimeInterval(10)
        while lb.openDescriptors > before && Date() < deadline { usleep(100_000) }
        XCTAssertLessThanOrEqual(lb.openDescriptors, before, "descriptors back to where they were")
        XCTAssertEqual(get(port).statuses, [200])
    }

    func testMetricsCountRequestsResponsesAndBytes() async throws {
        for _ in 0..<5 { XCTAssertEqual(get(port).statuses, [200]) }
        XCTAssertEqual(get(lb.httpPort, host: "nowhere.example").statuses, [404])
        _ = RawHTTP.send(port, "GET / HTTP/1.1\r\n\r\n")  // 400, counted against the service
        let url = lb.adminURL
        let text = try await Eventually.value("counters published", within: 3) { () -> String? in
            let t = try await HTTPTransport().expectOK(.GET, url + "/metrics").text
            return t.contains("pacer_lb_requests_total{port=\"\(self.port)\",app=\"/rec\",mode=\"http\"} 5") ? t : nil
        }
        XCTAssertTrue(
            text.contains("pacer_lb_responses_total{port=\"\(port)\",app=\"/rec\",mode=\"http\",class=\"2xx\"} 5"), text)
        XCTAssertTrue(text.contains("pacer_lb_response_seconds_count{port=\"\(port)\",app=\"/rec\",mode=\"http\"} 5"), text)
        XCTAssertTrue(text.contains("# TYPE pacer_lb_response_seconds histogram"))
        XCTAssertTrue(text.contains("pacer_lb_backends{port=\"\(port)\",app=\"/rec\",mode=\"http\"} 1"))
        XCTAssertTrue(text.contains("pacer_lb_framework_connected 1"))
        let bytesOut = text.split(separator: "\n").first {
            $0.hasPrefix("pacer_lb_bytes_total{port=\"\(port)\"") && $0.contains("out")
        }
        XCTAssertGreaterThan(Int(bytesOut?.split(separator: " ").last ?? "0") ?? 0, 500)
        let stats = try await HTTPTransport().expectOK(.GET, url + "/stats").text
        XCTAssertTrue(stats.contains("\"requests\":5"), stats)
        // Per backend (the console's Traffic page): the one backend answered the five, over a
        // pooled connection still open.
        struct Stats: Decodable {
            struct Service: Decodable {
                struct Counters: Decodable {
                    struct Backend: Decodable {
                        var responses: [Int]
                        var active: Int
                        var connections: Int
                    }
                    var backends: [String: Backend]
                }
                var port: Int
                var counters: Counters
            }
            var services: [Service]
        }
        let decoded = try JSONDecoder().decode(Stats.self, from: Data(stats.utf8))
        let backends = try XCTUnwrap(decoded.services.first { $0.port == port }?.counters.backends)
        XCTAssertEqual(backends.count, 1, stats)
        XCTAssertEqual(backends.values.first?.responses[1], 5, "2xx from the backend")
        XCTAssertGreaterThanOrEqual(backends.values.first?.connections ?? 0, 1)
    }

    /// HAPROXY_0_STICKY: the first answer sets a cookie naming its backend; requests carrying it
    /// stay there, requests without it are balanced.
    func testStickyCookieKeepsAClientOnOneBackend() async throws {
        let r = try await client.raw(
            "PUT", "/v2/apps/rec?force=true",
            body: try JSONSerialization.data(withJSONObject: [
                "instances": 3, "labels": ["HAPROXY_0_MODE": "http", "HAPROXY_0_VHOST": "app.example", "HAPROXY_0_STICKY": "true"]
            ]))
        XCTAssertEqual(r.status, 200, r.text)
        // The label change restarts the tasks: wait for the new three, not the old ones on their way out.
        try await Eventually.that("three backends, the deployment done", within: 30) {
            let deployments = try await self.client.deployments()
            return deployments.isEmpty ? try await self.backends(self.port).count == 3 : false
        }
        func task(_ e: RawHTTP.Exchange) -> String? {
            e.responses.first.flatMap { try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: Any] }?["task"]
                as? String
        }
        let first = get(port)
        let cookie = try XCTUnwrap(first.responses.first?.header("set-cookie"), first.responses.first?.head ?? "")
        XCTAssertTrue(cookie.hasPrefix("pacer_sticky="), cookie)
        let value = String(cookie.split(separator: ";")[0])
        let pinned = try XCTUnwrap(task(first))
        for _ in 0..<6 {
            let again = get(port, headers: "Cookie: other=1; \(value)\r\n")
            XCTAssertEqual(task(again), pinned)
            XCTAssertNil(again.responses.first?.header("set-cookie"), "no new cookie while it holds")
        }
        let spread = Set((0..<9).compactMap { _ in task(get(port)) })
        XCTAssertEqual(spread.count, 3, "without the cookie requests are balanced")
    }
}
