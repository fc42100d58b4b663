import Foundation
import NIOCore
import PacerApps
import PacerClient
import XCTest

final class EventBusTests: XCTestCase {
    func data(_ s: String) -> Data { Data(s.utf8) }

    func take(_ n: Int, from stream: AsyncStream<StreamItem>) async -> [StreamItem] {
        var out: [StreamItem] = []
        for await item in stream {
            out.append(item)
            if out.count == n { break }
        }
        return out
    }

    func testSubscribersGetEventsInOrderFilteredByType() async throws {
        let bus = EventBus()
        let (_, all) = try await bus.subscribe(types: nil, lastEventId: nil)
        let (_, onlyStatus) = try await bus.subscribe(types: ["status_update_event"], lastEventId: nil)
        let a = await bus.publish(type: "deployment_info", data: data("1"))
        let b = await bus.publish(type: "status_update_event", data: data("2"))
        XCTAssertLessThan(a, b)
        let got = await take(2, from: all)
        XCTAssertEqual(got, [.event(id: a, type: "deployment_info", data: data("1")), .event(id: b, type: "status_update_event", data: data("2"))])
        let filtered = await take(1, from: onlyStatus)
        XCTAssertEqual(filtered, [.event(id: b, type: "status_update_event", data: data("2"))])
    }

    func testLastEventIdResumesWithWhatWasMissed() async throws {
        let bus = EventBus()
        let first = await bus.publish(type: "x", data: data("1"))
        let second = await bus.publish(type: "x", data: data("2"))
        let (_, stream) = try await bus.subscribe(types: nil, lastEventId: first)
        let replay = await take(1, from: stream)
        XCTAssertEqual(replay, [.event(id: second, type: "x", data: data("2"))])
    }

    func testIdsGrowAcrossRestarts() async {
        let before = await EventBus(now: Date(timeIntervalSince1970: 1000)).publish(type: "x", data: data(""))
        let after = await EventBus(now: Date(timeIntervalSince1970: 1001)).publish(type: "x", data: data(""))
        XCTAssertLessThan(before, after)
    }

    func testSlowConsumerIsDroppedAndOthersKeepGoing() async throws {
        var limits = EventBusLimits()
        limits.queuePerSubscriber = 4
        let bus = EventBus(limits: limits)
        let (_, slow) = try await bus.subscribe(types: nil, lastEventId: nil)
        let (_, fast) = try await bus.subscribe(types: nil, lastEventId: nil)
        var fastSeen = 0
        for i in 0..<10 {
            await bus.publish(type: "x", data: data("\(i)"))
            fastSeen += await take(1, from: fast).count
        }
        XCTAssertEqual(fastSeen, 10)
        let count = await bus.subscriberCount
        XCTAssertEqual(count, 1, "the subscriber that never read was dropped")
        var slowGot = 0
        for await _ in slow { slowGot += 1 }  // ends: its stream was finished
        XCTAssertEqual(slowGot, 4, "it keeps what fit in its queue, nothing more")
    }

    func testSubscriberCapAnswers503() async throws {
        var limits = EventBusLimits()
        limits.maxSubscribers = 2
        let bus = EventBus(limits: limits)
        _ = try await bus.subscribe(types: nil, lastEventId: nil)
        let (second, _) = try await bus.subscribe(types: nil, lastEventId: nil)
        do {
            _ = try await bus.subscribe(types: nil, lastEventId: nil)
            XCTFail("over the cap")
        } catch { XCTAssertEqual(error.status, 503) }
        await bus.unsubscribe(second)
        _ = try await bus.subscribe(types: nil, lastEventId: nil)
    }

    func testSSEParserHandlesSplitChunksCommentsAndMultilineData() throws {
        var p = SSEParser()
        var events = try p.feed(ByteBuffer(string: "id: 7\nevent: status_update_event\ndata: {\"a\":"))
        XCTAssertEqual(events, [])
        events = try p.feed(ByteBuffer(string: "1}\n\n: keep-alive\n\ndata: x\ndata: y\n\n"))
        XCTAssertEqual(events, [ServerSentEvent(id: "7", event: "status_update_event", data: "{\"a\":1}"),
                                ServerSentEvent(id: "7", event: "message", data: "x\ny")])
        XCTAssertEqual(p.comments, 1)
    }
}
