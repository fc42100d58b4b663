import Foundation
import Hummingbird
import PacerMasterCore
import PacerModel
import PacerServerKit

enum MasterRoutes {
    static func router(_ master: Master) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: APIErrorMiddleware())
        router.get("/health") { _, _ in JSONResponse.text("ok") }
        router.get("/state") { _, _ in try JSONResponse.make(await master.state(), encoder: WireJSON.masterEncoder()) }
        router.post("/api/v1/scheduler") { request, _ in
            // An ACCEPT may carry a thousand task infos: larger than an app spec, still bounded.
            let call = try JSONBody.decode(SchedulerCall.self, from: try await BodyReader.json(request, limit: 32 << 20),
                                           decoder: WireJSON.masterDecoder())
            if call.type == .subscribe {
                guard let info = call.subscribe?.frameworkInfo else { throw APIError.badRequest("SUBSCRIBE needs subscribe.framework_info") }
                return await subscription(master, info)
            }
            do { try await master.handle(call) } catch let e as MasterCallError { throw APIError.badRequest(e.message) }
            return Response(status: .accepted)
        }
        router.post("/api/v1/agent") { request, _ in
            let call = try JSONBody.decode(AgentCall.self, from: try await BodyReader.json(request, limit: 64 << 20),
                                           decoder: WireJSON.masterDecoder())
            let status = await master.handle(call)
            return status == 404 ? JSONResponse.error(APIError.notFound("unknown agent \(call.agentId): register again"))
                : Response(status: .init(code: status))
        }
        return router
    }

    /// The SUBSCRIBE response: one JSON event per line for as long as the framework stays.
    static func subscription(_ master: Master, _ info: FrameworkInfo) async -> Response {
        let (id, generation, events) = await master.subscribe(info)
        let body = ResponseBody { writer in
            let encoder = WireJSON.masterEncoder()
            do {
                for await event in events {
                    var bytes = try encoder.encode(event)
                    bytes.append(0x0A)
                    try await writer.write(ByteBuffer(bytes: bytes))
                }
            } catch {
                // The framework went away mid-write; its end is recorded below.
            }
            await master.streamEnded(frameworkId: id, generation: generation)
            try? await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/json", .init("Mesos-Stream-Id")!: id], body: body)
    }
}
