import Foundation
import Hummingbird
import PacerModel
import XCTest

@testable import PacerMaster

/// The master answers heartbeats from a cached body: it must be exactly what the encoder writes,
/// and follow the interval when the cluster's size changes it.
final class HeartbeatReplyTests: XCTestCase {
    func testTheCachedAnswerIsTheEncodedOneForEachInterval() async throws {
        let replies = MasterRoutes.HeartbeatReplies()
        for interval in [1.0, 1.0, 10.0, 2.5, 2.5, 1.0] {
            let response = try replies.response(interval)
            XCTAssertEqual(response.status, .ok)
            XCTAssertEqual(response.headers[.contentType], "application/json; charset=utf-8")
            let writer = CollectingWriter()
            _ = try await response.body.write(writer)
            let expected = try WireJSON.masterEncoder().encode(AgentCallReply(heartbeatIntervalSeconds: interval))
            XCTAssertEqual(Data(writer.bytes.readableBytesView), expected, "interval \(interval)")
            let decoded = try WireJSON.masterDecoder().decode(AgentCallReply.self, from: Data(writer.bytes.readableBytesView))
            XCTAssertEqual(decoded.heartbeatIntervalSeconds, interval)
        }
    }
}

/// Collects what a response body writes.
private final class CollectingWriter: ResponseBodyWriter, @unchecked Sendable {
    var bytes = ByteBuffer()
    func write(_ buffer: ByteBuffer) async throws {
        var b = buffer
        bytes.writeBuffer(&b)
    }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
