import Foundation
import PacerClient
import PacerTestKit
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `/v2/eventSubscriptions`: a real HTTP receiver gets every event POSTed, in order; the
/// registration survives a framework restart; bad callback URLs are refused.
final class EventSubscriptionTests: ClusterTestCase {
    /// Appends each POSTed body as one line to `received.log`; answers 500 to the first POST (the
    /// test's own probe), 200 after.
    static let receiver = #"""
        import http.server, os, sys
        FIRST = [True]
        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if FIRST[0]:
                    FIRST[0] = False
                    self.send_response(500); self.send_header("Content-Length", "0"); self.end_headers(); return
                with open(sys.argv[2], "ab") as f: f.write(body.replace(b"\n", b" ") + b"\n")
                self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
            def log_message(self, *a): pass
        http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
        """#

    func testCallbacksReceiveEveryEventAndSurviveAFrameworkRestart() async throws {
        let port = FreePorts.block(1)
        let log = cluster.dir + "/received.log"
        let script = cluster.dir + "/receiver.py"
        try Self.receiver.write(toFile: script, atomically: true, encoding: .utf8)
        let receiver = Process()
        receiver.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        receiver.arguments = [script, "\(port)", log]
        try receiver.run()
        // SIGKILL without waiting: Foundation's waitUntilExit can hang here once the child is reaped.
        defer { kill(receiver.processIdentifier, SIGKILL) }
        let callback = "http://127.0.0.1:\(port)/events"
        try await Eventually.that("receiver up") {
            (try? await HTTPTransport().send(.POST, callback, body: Data("{}".utf8))) != nil
        }

        let bad = try await client.raw("POST", "/v2/eventSubscriptions?callbackUrl=ftp://x")
        XCTAssertEqual(bad.status, 422, bad.text)
        // A11: never to instance metadata, by address or by a name that resolves there.
        for target in ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/x"] {
            let metadata = try await client.raw("POST", "/v2/eventSubscriptions?callbackUrl=\(target)")
            XCTAssertEqual(metadata.status, 422, metadata.text)
            XCTAssertTrue(metadata.text.contains("link-local"), metadata.text)
        }
        let missing = try await client.raw("POST", "/v2/eventSubscriptions")
        XCTAssertEqual(missing.status, 400)
        let r = try await client.raw("POST", "/v2/eventSubscriptions?callbackUrl=\(callback)")
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertTrue(r.text.contains("subscribe_event"))
        let listed = try await client.raw("GET", "/v2/eventSubscriptions")
        XCTAssertTrue(listed.text.contains(callback))

        let created = try await post(sleeper("/cb", instances: 2))
        XCTAssertEqual(created.status, 201)
        func lines() -> [String] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        try await Eventually.that("deployment events delivered", within: 15) {
            lines().contains { $0.contains("\"deployment_success\"") }
        }
        let types = lines().compactMap { line -> String? in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["eventType"] as? String
        }
        XCTAssertEqual(types.first, "subscribe_event", "the subscription's own event first")
        for t in ["api_post_event", "deployment_info", "status_update_event", "deployment_success"] {
            XCTAssertTrue(types.contains(t), "\(t) in \(types)")
        }
        XCTAssertLessThan(types.firstIndex(of: "deployment_info")!, types.firstIndex(of: "deployment_success")!)

        // Stored: after a restart the framework still delivers to it.
        cluster.framework.kill9()
        try cluster.startFramework()
        try await cluster.ready()
        let kept = try await client.raw("GET", "/v2/eventSubscriptions")
        XCTAssertTrue(kept.text.contains(callback))
        let before = lines().count
        try await client.scale(id("/cb"), instances: 3)
        try await Eventually.that("events after the restart", within: 15) { lines().count > before }

        let gone = try await client.raw("DELETE", "/v2/eventSubscriptions?callbackUrl=\(callback)")
        XCTAssertEqual(gone.status, 200, gone.text)
        let after = try await client.raw("GET", "/v2/eventSubscriptions")
        XCTAssertFalse(after.text.contains(callback))
        let again = try await client.raw("DELETE", "/v2/eventSubscriptions?callbackUrl=\(callback)")
        XCTAssertEqual(again.status, 404)
    }
}
