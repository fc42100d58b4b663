import Foundation
import Hummingbird
import PacerModel
import PacerServerKit

/// `GET /v2/events`: server-sent events, `?event_type=` filters, `Last-Event-ID` resumes.
enum EventRoutes {
    /// `loadBalancersChanged` hears the set of subscribed load balancers (`?lb=NAME`) whenever it changes.
    static func register(on router: Router<BasicRequestContext>, bus: EventBus,
                         loadBalancersChanged: @escaping @Sendable (Set<String>) async -> Void) {
        router.get("/v2/events") { request, _ in
            let types = request.uri.queryParameters.getAll("event_type").map { String($0) }
            let lastId = request.headers[.init("Last-Event-ID")!].flatMap { Int64($0) }
            let lb = request.uri.queryParameters.get("lb").flatMap { $0.isEmpty ? nil : String($0) }
            let (subscriber, stream) = try await bus.subscribe(types: types.isEmpty ? nil : Set(types), lastEventId: lastId,
                                                               loadBalancer: lb)
            if lb != nil { await loadBalancersChanged(await bus.loadBalancers) }
            let attached = EventEncoding.json(["eventType": "event_stream_attached", "remoteAddress": "",
                                               "timestamp": Timestamp.string(Date())])
            await bus.publish(type: "event_stream_attached", data: attached, only: subscriber)
            let body = ResponseBody { writer in
                do {
                    for await item in stream {
                        var text: String
                        switch item {
                        case .event(let id, let type, let data):
                            text = "id: \(id)\nevent: \(type)\ndata: "
                            text += String(decoding: data, as: UTF8.self)
                            text += "\n\n"
                        case .keepAlive:
                            text = ": keep-alive\n\n"
                        }
                        try await writer.write(ByteBuffer(string: text))
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
}
