import Foundation
import PacerModel

/// One item on a subscriber's stream: an event, or a keep-alive comment that lets both ends notice
/// a dead connection.
public enum StreamItem: Sendable, Equatable {
    case event(id: Int64, type: String, data: Data)
    case keepAlive
}

public struct EventBusLimits: Sendable {
    /// Marathon's event_stream_max_outstanding_messages: a subscriber this far behind is dropped.
    public var queuePerSubscriber = 1024
    public var maxSubscribers = 256
    /// Events kept for `Last-Event-ID` resumption.
    public var replay = 1024
    public init() {}
}

/// Fans events out to `/v2/events` subscribers. Ids grow across restarts (they start from the
/// boot time), so a client resuming with an older id never mistakes a new event for one it saw.
public actor EventBus {
    struct Subscriber {
        var types: Set<String>?
        var continuation: AsyncStream<StreamItem>.Continuation
        /// A load balancer's name (`?lb=`): draining waits for each one connected.
        var loadBalancer: String?
    }
    let limits: EventBusLimits
    var subscribers: [Int: Subscriber] = [:]
    var nextSubscriber = 0
    var recent: [(id: Int64, type: String, data: Data)] = []
    var lastId: Int64

    public init(limits: EventBusLimits = EventBusLimits(), now: Date = Date()) {
        self.limits = limits
        lastId = Int64(now.timeIntervalSince1970 * 1000) * 1_000_000
    }

    public var subscriberCount: Int { subscribers.count }

    /// The names of the load balancers subscribed now.
    public var loadBalancers: Set<String> { Set(subscribers.values.compactMap(\.loadBalancer)) }

    /// A new stream, starting with what it missed after `lastEventId` (if still kept).
    public func subscribe(types: Set<String>?, lastEventId: Int64?, loadBalancer: String? = nil) throws(APIError)
        -> (Int, AsyncStream<StreamItem>) {
        guard subscribers.count < limits.maxSubscribers else {
            throw APIError(status: 503, message: "too many event stream subscribers (\(limits.maxSubscribers)); retry later")
        }
        let (stream, continuation) = AsyncStream.makeStream(of: StreamItem.self,
                                                            bufferingPolicy: .bufferingOldest(limits.queuePerSubscriber))
        nextSubscriber += 1
        let id = nextSubscriber
        subscribers[id] = Subscriber(types: types, continuation: continuation, loadBalancer: loadBalancer)
        if let lastEventId {
            for e in recent where e.id > lastEventId { deliver(.event(id: e.id, type: e.type, data: e.data), to: id, type: e.type) }
        }
        return (id, stream)
    }

    public func unsubscribe(_ id: Int) {
        subscribers.removeValue(forKey: id)?.continuation.finish()
    }

    public var hasSubscribers: Bool { !subscribers.isEmpty }

    /// Several events in order, in one hop onto the bus.
    public func publish(_ events: [(type: String, data: Data)]) {
        for e in events { publish(type: e.type, data: e.data) }
    }

    @discardableResult
    public func publish(type: String, data: Data) -> Int64 {
        lastId += 1
        recent.append((lastId, type, data))
        if recent.count > limits.replay { recent.removeFirst(recent.count - limits.replay) }
        for id in subscribers.keys.sorted() { deliver(.event(id: lastId, type: type, data: data), to: id, type: type) }
        return lastId
    }

    /// Sends only to one subscriber (its `event_stream_attached`).
    public func publish(type: String, data: Data, only subscriber: Int) {
        lastId += 1
        deliver(.event(id: lastId, type: type, data: data), to: subscriber, type: type)
    }

    public func closeAll() {
        for id in subscribers.keys.sorted() { unsubscribe(id) }
    }

    public func keepAlive() {
        for id in subscribers.keys.sorted() { deliver(.keepAlive, to: id, type: nil) }
    }

    /// A subscriber whose queue is full is dropped: a slow consumer never slows the framework.
    func deliver(_ item: StreamItem, to id: Int, type: String?) {
        guard let s = subscribers[id] else { return }
        if let type, let wanted = s.types, !wanted.contains(type) { return }
        if case .dropped = s.continuation.yield(item) { unsubscribe(id) }
    }
}
