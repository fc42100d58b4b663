import Foundation
import PacerModel
import Synchronization

/// One event as delivered: its id (for `Last-Event-ID`), type and JSON.
public struct BusEvent: Sendable, Equatable {
    public var id: Int64
    public var type: String
    public var data: Data
    public init(id: Int64, type: String, data: Data) {
        self.id = id
        self.type = type
        self.data = data
    }
}

/// One event as published, in both shapes. Marathon's clients refuse what Marathon never sends
/// (the `marathon` PyPI client raises on an unknown event type), so plain subscribers get
/// `marathon` and never a Pacer-only type unless they ask for it by name; load balancers
/// (`?lb=`) and `?embed=pacer` subscribers get `pacer`.
public struct Publication: Sendable, Equatable {
    public var type: String
    /// Marathon's shape; nil for Pacer's own event types.
    public var marathon: Data?
    public var pacer: Data
    /// The apps it is about (a principal that may read none of them does not get it); nil: about
    /// no app in particular, for everyone.
    public var apps: [PathId]?

    public init(type: String, marathon: Data?, pacer: Data, apps: [PathId]? = nil) {
        self.type = type
        self.marathon = marathon
        self.pacer = pacer
        self.apps = apps
    }
    /// An event that has one shape for everyone.
    public init(type: String, data: Data) { self.init(type: type, marathon: data, pacer: data) }
}

/// One item on a subscriber's stream: the events of one publication, or a keep-alive comment that
/// lets both ends notice a dead connection. A publication is one item: a burst of 4,000 status
/// events from one batch of updates overflowed a queue counted in events, dropping every
/// subscriber (the load balancer included) at the moment it mattered most.
public enum StreamItem: Sendable, Equatable {
    case events([BusEvent])
    case keepAlive
}

/// Bytes queued for one subscriber and not yet written out: its backlog is bounded in bytes.
public final class Backlog: Sendable {
    let bytes = Atomic<Int>(0)
    public init() {}
    public func add(_ n: Int) -> Int { bytes.add(n, ordering: .relaxed).newValue }
    /// The subscriber wrote these out.
    public func done(_ n: Int) { bytes.subtract(n, ordering: .relaxed) }
}

public struct EventBusLimits: Sendable {
    /// Publications a subscriber may be behind (Marathon's event_stream_max_outstanding_messages
    /// counts events; a publication here holds all the events of one change).
    public var queuePerSubscriber = 1024
    /// Bytes a subscriber may be behind before it is dropped: a slow consumer never holds more.
    public var backlogBytes = 32 << 20
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
        let backlog: Backlog
        /// A load balancer's name (`?lb=`): draining waits for each one connected.
        var loadBalancer: String?
        /// Gets Pacer's shapes and event types (load balancers, `?embed=pacer`).
        var pacer: Bool
        /// Who subscribed: events about apps it may not read are not sent (nil: no authentication).
        var principal: Principal?
    }
    let limits: EventBusLimits
    var subscribers: [Int: Subscriber] = [:]
    var nextSubscriber = 0
    var recent: [(id: Int64, event: Publication)] = []
    var lastId: Int64

    public init(limits: EventBusLimits = EventBusLimits(), now: Date = SteadyClock.now) {
        self.limits = limits
        lastId = Int64(now.timeIntervalSince1970 * 1000) * 1_000_000
    }

    public var subscriberCount: Int { subscribers.count }

    /// The names of the load balancers subscribed now.
    public var loadBalancers: Set<String> { Set(subscribers.values.compactMap(\.loadBalancer)) }

    /// A new stream, starting with what it missed after `lastEventId` (if still kept).
    public func subscribe(
        types: Set<String>?, lastEventId: Int64?, loadBalancer: String? = nil, pacer: Bool = false, principal: Principal? = nil
    )
        throws(APIError)
        -> (Int, AsyncStream<StreamItem>, Backlog)
    {
        guard subscribers.count < limits.maxSubscribers else {
            throw APIError(status: 503, message: "too many event stream subscribers (\(limits.maxSubscribers)); retry later")
        }
        let (stream, continuation) = AsyncStream.makeStream(
            of: StreamItem.self,
            bufferingPolicy: .bufferingOldest(limits.queuePerSubscriber))
        nextSubscriber += 1
        let id = nextSubscriber
        let backlog = Backlog()
        subscribers[id] = Subscriber(
            types: types, continuation: continuation, backlog: backlog, loadBalancer: loadBalancer,
            pacer: pacer || loadBalancer != nil, principal: principal)
        if let lastEventId { deliver(recent.filter { $0.id > lastEventId }, to: id) }
        return (id, stream, backlog)
    }

    public func unsubscribe(_ id: Int) {
        subscribers.removeValue(forKey: id)?.continuation.finish()
    }

    public var hasSubscribers: Bool { !subscribers.isEmpty }

    /// Which shapes someone listens for now: nobody, Marathon clients, Pacer's subscribers.
    public var listeners: (marathon: Bool, pacer: Bool) {
        (subscribers.values.contains { !$0.pacer }, subscribers.values.contains { $0.pacer })
    }

    /// Several events in order, delivered to each subscriber as one item.
    public func publish(_ events: [Publication]) {
        var out: [(id: Int64, event: Publication)] = []
        for e in events {
            lastId += 1
            out.append((lastId, e))
        }
        recent += out
        if recent.count > limits.replay { recent.removeFirst(recent.count - limits.replay) }
        for id in subscribers.keys.sorted() { deliver(out, to: id) }
    }

    @discardableResult
    public func publish(type: String, data: Data) -> Int64 {
        publish([Publication(type: type, data: data)])
        return lastId
    }

    /// Sends only to one subscriber (its `event_stream_attached`).
    public func publish(type: String, data: Data, only subscriber: Int) {
        lastId += 1
        deliver([(lastId, Publication(type: type, data: data))], to: subscriber)
    }

    public func closeAll() {
        for id in subscribers.keys.sorted() { unsubscribe(id) }
    }

    public func keepAlive() {
        for (id, s) in subscribers.sorted(by: { $0.key < $1.key }) {
            if case .dropped = s.continuation.yield(.keepAlive) { unsubscribe(id) }
        }
    }

    /// A subscriber whose queue or backlog is full is dropped: a slow consumer never slows the
    /// framework, and never holds more than its limit.
    func deliver(_ events: [(id: Int64, event: Publication)], to id: Int) {
        guard let s = subscribers[id] else { return }
        let wanted = events.compactMap { (eventId, e) -> BusEvent? in
            if let types = s.types, !types.contains(e.type) { return nil }
            if let p = s.principal, !p.readsAll, let apps = e.apps, !apps.contains(where: p.mayRead) { return nil }
            // A Pacer-only type reaches a Marathon client only when it named that type itself.
            guard let data = s.pacer ? e.pacer : e.marathon ?? (s.types != nil ? e.pacer : nil) else { return nil }
            return BusEvent(id: eventId, type: e.type, data: data)
        }
        guard !wanted.isEmpty else { return }
        let bytes = wanted.reduce(0) { $0 + $1.data.count }
        if s.backlog.add(bytes) > limits.backlogBytes { return unsubscribe(id) }
        if case .dropped = s.continuation.yield(.events(wanted)) { unsubscribe(id) }
    }
}
