import Foundation
import PacerClient
import PacerTestKit
import XCTest

/// TLS termination on the HTTPS virtual-host listener: certificates picked by SNI, the request
/// forwarded as plain HTTP with `X-Forwarded-Proto: https`, and HTTP→HTTPS redirects.
final class HTTPSTests: HTTPTestCase {
    var tlsLB: TestLB!
    var httpsPort = 0
    var certs = ""

    override var recorderLabels: [String: String] { ["HAPROXY_1_REDIRECT_TO_HTTPS": "true"] }

    override func setUp() async throws {
        try await super.setUp()
        certs = cluster.dir + "/certs"
        try makeCertificates()
        httpsPort = FreePorts.block(1)
        tlsLB = try TestLB(
            cluster: cluster,
            extra: """
                https_port: \(httpsPort)
                certificates:
                  - {cert: \(certs)/app.pem, key: \(certs)/app.key}
                  - {cert: \(certs)/other.pem, key: \(certs)/other.key}
                """)
        let url = tlsLB.adminURL
        try await Eventually.that("TLS LB up", within: 10) {
            try await HTTPTransport().send(.GET, url + "/healthz").status == 200
        }
        let port = httpsPort
        try await Eventually.that("HTTPS routes") { self.curl(["-k", "https://app.example:\(port)/"]).status == 0 }
    }

    override func tearDown() async throws {
        tlsLB?.process.stop()
        try await super.tearDown()
    }

    /// Each served certificate's expiry is on /metrics (the certificate alerts use it), to the
    /// second openssl reads from the file.
    func testTheMetricsCarryEachCertificatesExpiry() async throws {
        let metrics = try await HTTPTransport().expectOK(.GET, tlsLB.adminURL + "/metrics").text
        for name in ["app", "other"] {
            let date = run(
                "/usr/bin/openssl", ["x509", "-in", "\(certs)/\(name).pem", "-noout", "-enddate", "-dateopt", "iso_8601"])
            XCTAssertEqual(date.status, 0, date.out)
            let iso = date.out.trimmingCharacters(in: .whitespacesAndNewlines).replacing("notAfter=", with: "")
                .replacing(" ", with: "T")
            let expires = try XCTUnwrap(ISO8601DateFormatter().date(from: iso), iso).timeIntervalSince1970
            let line =
                "pacer_lb_certificate_expiry_timestamp_seconds{certificate=\"\(certs)/\(name).pem\","
                + "subject=\"/CN=\(name).example\"} \(Int64(expires))"
            XCTAssertTrue(metrics.contains(line), "\(line)\nnot in:\n\(metrics)")
        }
    }

    /// A CA and two server certificates signed by it (app.example, other.example + *.other.example).
    func makeCertificates() throws {
        try FileManager.default.createDirectory(atPath: certs, withIntermediateDirectories: true)
        let script = """
            set -e; cd \(certs)
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=pacer-test-ca 2>/dev/null
            for name in app other; do
              openssl req -newkey rsa:2048 -nodes -keyout $name.key -out $name.csr -subj /CN=$name.example 2>/dev/null
              printf "subjectAltName=DNS:$name.example,DNS:*.$name.example" > $name.ext
              openssl x509 -req -in $name.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $name.pem -days 2 -extfile $name.ext 2>/dev/null
            done
            """
        XCTAssertEqual(run("/bin/sh", ["-c", script]).status, 0)
    }

    func run(_ tool: String, _ args: [String]) -> (status: Int32, out: String) {
        let r = Command.run(tool, args)
        return (r.status, r.out)
    }

    /// curl with the test CA, every test name resolved to loopback; prints the status code last.
    func curl(_ args: [String]) -> (status: Int32, out: String) {
        let resolve = ["app.example", "other.example", "www.other.example", "ws.example", "nope.example"].flatMap {
            ["--resolve", "\($0):\(httpsPort):127.0.0.1", "--resolve", "\($0):\(lb.httpPort):127.0.0.1"]
        }
        return run(
            "/usr/bin/curl", ["-s", "--max-time", "5", "--cacert", "\(certs)/ca.pem", "-w", "\n%{http_code}"] + resolve + args)
    }

    func testTerminatesTLSAndPicksTheCertificateBySNI() throws {
        let app = curl(["https://app.example:\(httpsPort)/secure"])
        XCTAssertEqual(app.status, 0, "verified against app.example's certificate")
        XCTAssertTrue(app.out.hasSuffix("\n200"), app.out)
        let record = try XCTUnwrap(received().last)
        XCTAssertEqual(record.header("x-forwarded-proto"), ["https"])
        XCTAssertEqual(record.header("x-forwarded-port"), ["\(httpsPort)"])
        XCTAssertEqual(record.line, "GET /secure HTTP/1.1")
        // other.example's certificate for other.example and its wildcard; no route there: 404.
        let other = curl(["https://www.other.example:\(httpsPort)/"])
        XCTAssertEqual(other.status, 0, "verified against other.example's wildcard certificate")
        XCTAssertTrue(other.out.hasSuffix("\n404"), other.out)
        // An SNI name no certificate covers gets the first certificate (so verification fails).
        XCTAssertEqual(curl(["https://nope.example:\(httpsPort)/"]).status, 60)
        // Keep-alive over TLS: two requests on one connection, and a body.
        let two = curl(["https://app.example:\(httpsPort)/a", "https://app.example:\(httpsPort)/b"])
        XCTAssertTrue(two.out.hasSuffix("\n200"), two.out)
        let body = String(repeating: "x", count: 300_000)
        try body.write(toFile: certs + "/body", atomically: true, encoding: .utf8)
        let posted = curl(["--data-binary", "@\(certs)/body", "https://app.example:\(httpsPort)/echo"])
        XCTAssertTrue(posted.out.hasPrefix(body) && posted.out.hasSuffix("\n200"))
    }

    func testPlainHTTPIsRedirectedWhereTheAppAsksForIt() throws {
        let r = RawHTTP.send(tlsLB.httpPort, "GET /path?q=1 HTTP/1.1\r\nHost: WS.example:\(tlsLB.httpPort)\r\n\r\n")
        XCTAssertEqual(r.statuses, [301])
        XCTAssertEqual(r.responses.first?.header("location"), "https://ws.example:\(httpsPort)/path?q=1")
        XCTAssertEqual(
            RawHTTP.send(tlsLB.httpPort, "GET / HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\n\r\n").statuses, [200])
    }

    func testBadCertificateStopsTheStartWithItsPath() throws {
        try "not a certificate".write(toFile: certs + "/bad.pem", atomically: true, encoding: .utf8)
        let bad = try TestLB(
            cluster: cluster,
            extra: "https_port: \(FreePorts.block(1))\ncertificates: [{cert: \(certs)/bad.pem, key: \(certs)/app.key}]")
        let deadline = Date().addingTimeInterval(10)
        while bad.process.isRunning && Date() < deadline { usleep(50_000) }
        XCTAssertFalse(bad.process.isRunning)
        XCTAssertTrue(bad.process.log.contains("certificate \(certs)/bad.pem"), bad.process.log)
    }
}
