import AsyncHTTPClient
import Hummingbird
import HummingbirdTesting
import PacerClient
import XCTest

/// A request that waits for a pooled connection longer than the connect timeout is failed unsent
/// by AsyncHTTPClient (`getConnectionFromPoolTimeout`); `HTTPTransport` queues it again up to its
/// own timeout, so a busy peer answers late rather than not at all.
final class HTTPTransportPoolTests: XCTestCase {
    func testRequestsQueuedBehindABusyPoolAreSentOnceAConnectionIsFree() async throws {
        let router = Router()
        router.post("/slow") { _, _ -> String in
            try await Task.sleep(for: .milliseconds(300))
            return "done"
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .milliseconds(100)))
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 1)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let transport = HTTPTransport(client: client, timeout: .seconds(10))
        // Shut down on failure too: AsyncHTTPClient traps on a client never shut down.
        do { try await send(through: transport, to: app) } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    private func send(through transport: HTTPTransport, to app: some ApplicationProtocol) async throws {
        try await app.test(.live) { server in
            let url = "http://127.0.0.1:\(server.port!)/slow"
            // One connection, four requests of 300 ms each: three wait 300–900 ms for it, far
            // beyond the 100 ms AsyncHTTPClient allows them on its own.
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<4 { group.addTask { try await transport.send(.POST, url, body: Data()).status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            XCTAssertEqual(statuses, [200, 200, 200, 200])
        }
    }
}
