import Foundation
import Logging
import PacerClient
import PacerModel
import PacerServerKit

/// Marathon's `/v2/eventSubscriptions`: each registered callback URL receives every event as an
/// HTTP POST with the event's JSON body, in order, retried with backoff (so at least once: a
/// receiver that answered but whose answer was lost sees the event again). Each callback has its own
/// bounded subscription to the event bus; one that falls behind resumes from the bus's replay
/// buffer, so a slow receiver never slows the framework. Registrations are stored.
actor EventCallbacks {
    struct Settings: Sendable {
        var attempts = 3
        var firstRetry: Duration = .milliseconds(500)
        var timeout: Duration = .seconds(5)
        var maxCallbacks = 32
        /// Where callbacks may go (A11).
        var policy = CallbackPolicy()
    }

    let bus: EventBus
    let repo: AppsRepository
    let settings: Settings
    let logger: Logger
    var deliveries: [String: Task<Void, Never>] = [:]

    init(bus: EventBus, repo: AppsRepository, settings: Settings = Settings(), logger: Logger) {
        self.bus = bus
        self.repo = repo
        self.settings = settings
        self.logger = logger
    }

    var urls: [String] { deliveries.keys.sorted() }

    /// Starts delivering to the callbacks stored before a restart.
    func restore() async {
        for url in (try? await repo.callbacks()) ?? [] { await start(url) }
    }

    /// Registers `url` (idempotent). Throws 422 for something that is not an http(s) URL.
    func subscribe(_ url: String, clientIp: String) async throws(APIError) {
        guard let u = URL(string: url), ["http", "https"].contains(u.scheme ?? ""), u.host != nil else {
            throw APIError(status: 422, message: "callbackUrl must be an http:// or https:// URL, got '\(url)'")
        }
        if let why = settings.policy.refusal(host: u.host ?? "", addresses: HostResolver.addresses(of: u.host ?? "")) {
            throw APIError(status: 422, message: "callbackUrl \(url): \(why)")
        }
        guard deliveries[url] == nil else { return }
        guard deliveries.count < settings.maxCallbacks else {
            throw APIError(status: 422, message: "at most \(settings.maxCallbacks) event subscriptions; remove one first")
        }
        do { try await repo.putCallbacks(urls + [url]) } catch {
            throw APIError(status: 503, message: "could not store the subscription: \(error); retry")
        }
        await start(url)
        await publish("subscribe_event", url, clientIp)
    }

    func unsubscribe(_ url: String, clientIp: String) async throws(APIError) {
        guard let task = deliveries.removeValue(forKey: url) else {
            throw APIError.notFound("no event subscription for '\(url)'")
        }
        task.cancel()
        try? await repo.putCallbacks(urls)
        await publish("unsubscribe_event", url, clientIp)
    }

    func stopAll() {
        for task in deliveries.values { task.cancel() }
        deliveries = [:]
    }

    func publish(_ type: String, _ url: String, _ clientIp: String) async {
        var payload = EventPayload(type, at: Timestamp.string(SteadyClock.now))
        payload.callbackUrl = url
        payload.clientIp = clientIp
        await bus.publish(type: type, data: EventEncoding.data(payload))
    }

    /// Subscribes to the bus before returning, so events published right after (the subscription's
    /// own `subscribe_event`) are not missed; delivery runs in its own task.
    func start(_ url: String) async {
        let (bus, settings, logger) = (self.bus, self.settings, self.logger)
        let first = try? await bus.subscribe(types: nil, lastEventId: nil)
        deliveries[url] = Task {
            let transport = HTTPTransport(timeout: .seconds(settings.timeout.components.seconds))
            var lastId: Int64?
            var current = first
            while !Task.isCancelled {
                // A subscription the bus dropped (this receiver fell behind) resumes after the last
                // delivered event, from the bus's replay buffer.
                guard let (subscriber, stream, backlog) = current else {
                    try? await Task.sleep(for: .seconds(1))
                    current = try? await bus.subscribe(types: nil, lastEventId: lastId)
                    continue
                }
                for await item in stream {
                    guard case .events(let events) = item else { continue }
                    for e in events {
                        if Task.isCancelled { break }
                        await Self.deliver(e.data, type: e.type, to: url, transport, settings, logger)
                        backlog.done(e.data.count)
                        lastId = e.id
                    }
                }
                await bus.unsubscribe(subscriber)
                current = try? await bus.subscribe(types: nil, lastEventId: lastId)
            }
        }
    }

    /// One event to one callback: POSTed, retried with doubling waits; given up after `attempts`.
    static func deliver(
        _ data: Data, type: String, to url: String, _ transport: HTTPTransport, _ settings: Settings,
        _ logger: Logger
    ) async {
        // Checked again at each delivery: a name may have been pointed elsewhere since it was accepted.
        let host = URL(string: url)?.host ?? ""
        if let why = settings.policy.refusal(host: host, addresses: HostResolver.addresses(of: host)) {
            logger.warning("event callback refused; event skipped", metadata: ["url": "\(url)", "reason": "\(why)"])
            return
        }
        var wait = settings.firstRetry
        for attempt in 1...settings.attempts {
            if let r = try? await transport.send(.POST, url, body: data, headers: [("Content-Type", "application/json")]),
                (200..<300).contains(r.status)
            {
                return
            }
            if attempt == settings.attempts || Task.isCancelled { break }
            try? await Task.sleep(for: wait)
            wait *= 2
        }
        logger.warning("event callback failed; event skipped", metadata: ["url": "\(url)", "event": "\(type)"])
    }
}
