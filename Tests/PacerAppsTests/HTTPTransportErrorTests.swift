import AsyncHTTPClient
import Hummingbird
import HummingbirdTesting
import PacerClient
import XCTest

/// A failed request either certainly never left (`ClientError.unsent`: the peer did not act on it)
/// or may have arrived (`transport`): the master reports a LAUNCH dropped only in the first case.
final class HTTPTransportErrorTests: XCTestCase {
    func testARefusedConnectionIsNeverSent() async throws {
        try await Self.withClient { transport in
            // Nothing listens on port 1 of the loopback.
            let error = await Self.failure(of: transport, "http://127.0.0.1:1/api/v1")
            XCTAssertEqual(error?.neverSent, true, "\(String(describing: error))")
        }
    }

    func testATimeoutAfterTheRequestWasSentMayHaveArrived() async throws {
        let router = Router()
        router.post("/api/v1") { request, _ -> String in
            _ = try await request.body.collect(upTo: 1 << 20)
            try await Task.sleep(for: .seconds(1))
            return "late"
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { server in
            try await Self.withClient { transport in
                let error = await Self.failure(of: transport, "http://127.0.0.1:\(server.port!)/api/v1")
                XCTAssertNotNil(error)
                XCTAssertEqual(error?.neverSent, false, "\(String(describing: error))")
            }
        }
    }

    private static func failure(of transport: HTTPTransport, _ url: String) async -> ClientError? {
        do {
            _ = try await transport.send(.POST, url, body: Data("{}".utf8))
            return nil
        } catch { return error }
    }

    /// A client with a 200 ms connect timeout and a 300 ms request timeout, shut down afterwards.
    private static func withClient(_ body: (HTTPTransport) async throws -> Void) async throws {
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton, configuration: .init(timeout: .init(connect: .milliseconds(200))))
        do { try await body(HTTPTransport(client: client, timeout: .milliseconds(300))) } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }
}
