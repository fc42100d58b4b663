import Foundation
import Hummingbird
import HummingbirdTesting
import PacerClient
import PacerModel
import PacerServerKit
import PacerTestKit
import XCTest

/// `Pacer-Timeout-Ms`: Pacer's clients say how long they wait; a server that gets to the request
/// after that answers 504 without doing the work. Requests without the header are never cut short.
final class CallerDeadlineTests: XCTestCase {
    /// A route that takes 300 ms (a queue to wait in), then asks whether its caller still waits.
    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: APIErrorMiddleware())
        router.add(middleware: CallerDeadlineMiddleware())
        router.get("/slow") { _, _ -> String in
            try await Task.sleep(for: .milliseconds(300))
            try CallerDeadline.check()
            return "worked"
        }
        router.get("/echo") { request, _ -> String in request.headers[.init(CallerTimeout.header)!] ?? "none" }
        return router
    }

    func testWorkIsSkippedOnlyWhenTheCallerSaidItWouldHaveGivenUp() async throws {
        let app = Application(router: router())
        try await app.test(.router) { client in
            func status(_ header: String?) async throws -> Int {
                let headers: HTTPFields = header.map { [.init(CallerTimeout.header)!: $0] } ?? [:]
                return try await client.execute(uri: "/slow", method: .get, headers: headers) { Int($0.status.code) }
            }
            let before = CallerDeadline.expired
            let late = try await client.execute(uri: "/slow", method: .get, headers: [.init(CallerTimeout.header)!: "100"])
            XCTAssertEqual(late.status.code, 504, "the caller waits 100 ms; the answer is ready after 300")
            XCTAssertTrue(String(buffer: late.body).contains("was not processed"), String(buffer: late.body))
            let gone = try await status("0")
            XCTAssertEqual(gone, 504, "refused before the handler runs")
            XCTAssertEqual(CallerDeadline.expired - before, 2)
            for waits in [nil, "5000", "junk", "-5", "99999999999"] {
                let s = try await status(waits)
                XCTAssertEqual(s, 200, "header \(waits ?? "absent"): processed")
            }
        }
    }

    /// `HTTPTransport` sends what is left of its timeout with every request.
    func testTheTransportSaysHowLongItWaits() async throws {
        let app = Application(router: router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { server in
            let r = try await HTTPTransport(timeout: .seconds(2)).send(.GET, "http://127.0.0.1:\(server.port!)/echo")
            let ms = try XCTUnwrap(Int(r.text), r.text)
            XCTAssertTrue((1_000...2_000).contains(ms), "\(ms) ms of a 2 s timeout")
            // A caller that gives up after 100 ms: the server, done waiting after 300, skips the work.
            let before = CallerDeadline.expired
            do {
                let late = try await HTTPTransport(timeout: .milliseconds(100)).send(
                    .GET, "http://127.0.0.1:\(server.port!)/slow")
                XCTFail("answered after the caller's timeout: \(late.status)")
            } catch {}
            try await Eventually.that("the server skipped the abandoned request", within: 5) {
                CallerDeadline.expired == before + 1
            }
        }
    }
}
