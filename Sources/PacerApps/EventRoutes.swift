import Foundation
import Hummingbird
import PacerModel
import PacerServerKit

/// `GET /v2/events`: server-sent events, `?event_type=` filters, `Last-Event-ID` resumes.
enum EventRoutes {
    /// `loadBalancersChanged` hears the set of subscribed load balancers (`?lb=NAME`) whenever it changes.
    static func register(
        on router: Router<PacerRequestContext>, bus: EventBus,
        loadBalancersChanged: @escaping @Sendable (Set<String>) async -> Void
    ) {
        router.get("/v2/events") { request, _ in
            let types = request.uri.queryParameters.getAll("event_type").map { String($0) }
            let lastId = request.headers[.init("Last-Event-ID")!].flatMap { Int64($0) }
            let lb = request.uri.queryParameters.get("lb").flatMap { $0.isEmpty ? nil : String($0) }
            let (subscriber, stream, backlog) = try await bus.subscribe(
                types: types.isEmpty ? nil : Set(types), lastEventId: lastId,
                loadBalancer: lb, pacer: request.embedsPacer, principal: RequestPrincipal.current)
            if lb != nil { await loadBalancersChanged(await bus.loadBalancers) }
            var payload = EventPayload("event_stream_attached", at: Timestamp.string(SteadyClock.now))
            payload.remoteAddress = ""
            let attached = EventEncoding.data(payload)
            await bus.publish(type: "event_stream_attached", data: attached, only: subscriber)
            let body = ResponseBody { writer in
                do {
                    for await item in stream {
                        var buffer = ByteBuffer()
                        switch item {
                        case .events(let events):
                            // One write for the whole publication.
                            for e in events {
                                buffer.writeString("id: \(e.id)\nevent: \(e.type)\ndata: ")
                                buffer.writeBytes(e.data)
                                buffer.writeString("\n\n")
                            }
                            try await writer.write(buffer)
                            backlog.done(events.reduce(0) { $0 + $1.data.count })
                        case .keepAlive:
                            buffer.writeString(": keep-alive\n\n")
                            try await writer.write(buffer)
                        }
                    }
                } catch {
                    // The subscriber went away; it is removed below.
                }
                await bus.unsubscribe(subscriber)
                if lb != nil { await loadBalancersChanged(await bus.loadBalancers) }
                try? await writer.finish(nil)
            }
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
        }
    }

    /// `/v2/eventSubscriptions`: HTTP callbacks, as Marathon has them (`?callbackUrl=`).
    static func registerSubscriptions(on router: Router<PacerRequestContext>, callbacks: EventCallbacks) {
        router.get("/v2/eventSubscriptions") { _, _ in try JSONResponse.make(["callbackUrls": await callbacks.urls]) }
        router.post("/v2/eventSubscriptions") { request, _ in
            let url = try callbackURL(request)
            try await callbacks.subscribe(url, clientIp: clientIp(request))
            return try JSONResponse.make(["callbackUrl": url, "clientIp": clientIp(request), "eventType": "subscribe_event"])
        }
        router.delete("/v2/eventSubscriptions") { request, _ in
            let url = try callbackURL(request)
            try await callbacks.unsubscribe(url, clientIp: clientIp(request))
            return try JSONResponse.make(["callbackUrl": url, "clientIp": clientIp(request), "eventType": "unsubscribe_event"])
        }
    }

    private static func callbackURL(_ request: Request) throws(APIError) -> String {
        guard let url = request.uri.queryParameters.get("callbackUrl"), !url.isEmpty else {
            throw APIError(status: 400, message: "callbackUrl is required (?callbackUrl=http://host:port/path)")
        }
        return String(url)
    }

    static func clientIp(_ request: Request) -> String {
        request.headers[.init("X-Forwarded-For")!].map { String($0.split(separator: ",")[0]) } ?? ""
    }
}
