import Foundation
import NIOCore
import PacerApps
import PacerClient
import PacerModel
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
        let (_, all, _) = try await bus.subscribe(types: nil, lastEventId: nil)
        let (_, onlyStatus, _) = try await bus.subscribe(types: ["status_update_event"], lastEventId: nil)
        let a = await bus.publish(type: "deployment_info", data: data("1"))
        let b = await bus.publish(type: "status_update_event", data: data("2"))
        XCTAssertLessThan(a, b)
        let got = await take(2, from: all)
        XCTAssertEqual(
            got,
            [
                .events([BusEvent(id: a, type: "deployment_info", data: data("1"))]),
                .events([BusEvent(id: b, type: "status_update_event", data: data("2"))])
            ])
        let filtered = await take(1, from: onlyStatus)
        XCTAssertEqual(filtered, [.events([BusEvent(id: b, type: "status_update_event", data: data("2"))])])
    }

    func testADeployerHearsOnlyOfItsOwnApps() async throws {
        let bus = EventBus()
        let deployer = Principal(name: "a", role: .deployer, paths: [try PathId(validating: "/team-a")])
        let (_, stream, _) = try await bus.subscribe(types: nil, lastEventId: nil, principal: deployer)
        let (_, viewer, _) = try await bus.subscribe(
            types: nil, lastEventId: nil, principal: Principal(name: "v", role: .viewer))
        let other = Publication(
            type: "status_update_event", marathon: data("b"), pacer: data("b"), apps: [try PathId(validating: "/team-b/x")])
        let own = Publication(
            type: "status_update_event", marathon: data("a"), pacer: data("a"), apps: [try PathId(validating: "/team-a/x")])
        await bus.publish([other])
        await bus.publish([own])
        let got = await take(1, from: stream)
        guard case .events(let events) = got.first else { return XCTFail("\(got)") }
        XCTAssertEqual(events.map(\.data), [data("a")], "the other team's event never reached the deployer")
        let all = await take(2, from: viewer)
        XCTAssertEqual(all.count, 2, "a viewer hears everything")
    }

    func testLastEventIdResumesWithWhatWasMissed() async throws {
        let bus = EventBus()
        let first = await bus.publish(type: "x", data: data("1"))
        let second = await bus.publish(type: "x", data: data("2"))
        let (_, stream, _) = try await bus.subscribe(types: nil, lastEventId: first)
        let replay = await take(1, from: stream)
        XCTAssertEqual(replay, [.events([BusEvent(id: second, type: "x", data: data("2"))])])
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
        let (_, slow, _) = try await bus.subscribe(types: nil, lastEventId: nil)
        let (_, fast, _) = try await bus.subscribe(types: nil, lastEventId: nil)
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

    /// A burst (one publication of many events) is one item: a queue counted in items never drops a
    /// subscriber for a burst; the backlog in bytes bounds what a slow one holds.
    func testABurstIsOneItemAndTheBacklogIsBoundedInBytes() async throws {
        var limits = EventBusLimits()
        limits.queuePerSubscriber = 4
        limits.backlogBytes = 10_000
        let bus = EventBus(limits: limits)
        let (_, reader, backlog) = try await bus.subscribe(types: nil, lastEventId: nil)
        let (_, idle, _) = try await bus.subscribe(types: nil, lastEventId: nil)
        await bus.publish((0..<5000).map { _ in Publication(type: "x", data: data("1")) })
        guard case .events(let burst) = await take(1, from: reader).first else { return XCTFail("no burst") }
        XCTAssertEqual(burst.count, 5000)
        backlog.done(5000)  // the reader wrote it out; the idle one did not
        await bus.publish((0..<4000).map { _ in Publication(type: "x", data: data("1")) })
        var count = await bus.subscriberCount
        XCTAssertEqual(count, 2, "9,000 bytes behind: within the backlog")
        _ = await take(1, from: reader)
        backlog.done(4000)
        await bus.publish((0..<4000).map { _ in Publication(type: "x", data: data("1")) })
        count = await bus.subscriberCount
        XCTAssertEqual(count, 1, "13,000 bytes behind: the subscriber that never read is dropped, the reader stays")
        _ = idle
    }

    /// Marathon clients get Marathon's shape and never a Pacer-only type unless they name it; load
    /// balancers and `embed=pacer` subscribers get Pacer's shape and every type.
    func testMarathonClientsGetMarathonShapesAndPacerSubscribersGetPacerShapes() async throws {
        let bus = EventBus()
        let (_, plain, _) = try await bus.subscribe(types: nil, lastEventId: nil)
        let (_, named, _) = try await bus.subscribe(types: ["instance_draining_event"], lastEventId: nil)
        let (_, lb, _) = try await bus.subscribe(types: nil, lastEventId: nil, loadBalancer: "lb-1")
        let (_, embed, _) = try await bus.subscribe(types: nil, lastEventId: nil, pacer: true)
        var listeners = await bus.listeners
        XCTAssertTrue(listeners.marathon && listeners.pacer)
        await bus.publish([
            Publication(type: "status_update_event", marathon: data("m"), pacer: data("p")),
            Publication(type: "instance_draining_event", marathon: nil, pacer: data("d"))
        ])
        func got(_ stream: AsyncStream<StreamItem>) async -> [String] {
            guard case .events(let events) = await take(1, from: stream).first else { return [] }
            return events.map { $0.type + "=" + String(decoding: $0.data, as: UTF8.self) }
        }
        let (p, n, l, e) = await (got(plain), got(named), got(lb), got(embed))
        XCTAssertEqual(p, ["status_update_event=m"])
        XCTAssertEqual(n, ["instance_draining_event=d"], "asked for by name")
        XCTAssertEqual(l, ["status_update_event=p", "instance_draining_event=d"])
        XCTAssertEqual(e, l)
        let (_, replay, _) = try await bus.subscribe(types: nil, lastEventId: 0)
        let replayed = await got(replay)
        XCTAssertEqual(replayed, ["status_update_event=m"], "a replay to a Marathon client keeps its shape")
        _ = (plain, named)
        listeners = await bus.listeners
        XCTAssertTrue(listeners.pacer)
    }

    func testSubscriberCapAnswers503() async throws {
        var limits = EventBusLimits()
        limits.maxSubscribers = 2
        let bus = EventBus(limits: limits)
        _ = try await bus.subscribe(types: nil, lastEventId: nil)
        let (second, _, _) = try await bus.subscribe(types: nil, lastEventId: nil)
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
        XCTAssertEqual(
            events,
            [
                ServerSentEvent(id: "7", event: "status_update_event", data: "{\"a\":1}"),
                ServerSentEvent(id: "7", event: "message", data: "x\ny")
            ])
        XCTAssertEqual(p.comments, 1)
    }
}
