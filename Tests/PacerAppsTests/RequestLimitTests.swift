import Foundation
import Hummingbird
import HummingbirdTesting
import PacerServerKit
import XCTest

/// `RequestLimitMiddleware` in-process: requests above the bound are refused at once and the
/// bound frees up as requests finish.
final class RequestLimitTests: XCTestCase {
    /// A route that holds its request until the test lets it go.
    private actor Gate {
        private var waiting: [CheckedContinuation<Void, Never>] = []
        private(set) var arrived = 0
        func wait() async {
            arrived += 1
            await withCheckedContinuation { waiting.append($0) }
        }
        func open() {
            for w in waiting { w.resume() }
            waiting = []
        }
    }

    func testAboveTheLimitRequestsAre503AtOnceAndSlotsComeBack() async throws {
        let gate = Gate()
        let limit = RequestLimitMiddleware<BasicRequestContext>(limit: 2)
        let router = Router()
        router.add(middleware: limit)
        router.get("/slow") { _, _ -> String in
            await gate.wait()
            return "done"
        }
        router.get("/fast") { _, _ in "ok" }
        let app = Application(router: router)
        try await app.test(.router) { client in
            async let first = client.execute(uri: "/slow", method: .get) { Int($0.status.code) }
            async let second = client.execute(uri: "/slow", method: .get) { Int($0.status.code) }
            while await gate.arrived < 2 { try await Task.sleep(for: .milliseconds(5)) }
            XCTAssertEqual(limit.current, 2)
            let refused = try await client.execute(uri: "/fast", method: .get)
            XCTAssertEqual(refused.status.code, 503)
            XCTAssertEqual(refused.headers[.retryAfter], "1")
            XCTAssertTrue(String(buffer: refused.body).contains("--http-max-concurrent-requests"))
            await gate.open()
            let finished = try await [first, second]
            XCTAssertEqual(finished, [200, 200])
            let after = try await client.execute(uri: "/fast", method: .get)
            XCTAssertEqual(after.status.code, 200, "the slots are free again")
            XCTAssertEqual(limit.current, 0)
        }
    }
}
