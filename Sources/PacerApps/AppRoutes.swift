import Foundation
import Hummingbird
import PacerModel
import PacerServerKit

/// `/v2/apps/{id}…`: app ids contain slashes, so the path is split by its known suffixes
/// (`/tasks`, `/tasks/{taskId}`, `/restart`, `/versions`, `/versions/{version}`), as Marathon does.
enum AppRoutes {
    static func pathId(_ parts: [String]) throws(APIError) -> PathId {
        do { return try PathId(validating: parts.joined(separator: "/")) } catch { throw .invalid([error]) }
    }

    enum Target {
        case app(PathId)
        case tasks(PathId)
        case task(PathId, String)
        case restart(PathId)
        case canary(PathId)
        case versions(PathId)
        case version(PathId, String)
    }

    static func target(_ parts: [String]) throws(APIError) -> Target {
        let n = parts.count
        if n >= 2, parts[n - 1] == "tasks" { return .tasks(try pathId(Array(parts.dropLast()))) }
        if n >= 3, parts[n - 2] == "tasks" { return .task(try pathId(Array(parts.dropLast(2))), parts[n - 1]) }
        if n >= 2, parts[n - 1] == "restart" { return .restart(try pathId(Array(parts.dropLast()))) }
        if n >= 2, parts[n - 1] == "canary" { return .canary(try pathId(Array(parts.dropLast()))) }
        if n >= 2, parts[n - 1] == "versions" { return .versions(try pathId(Array(parts.dropLast()))) }
        if n >= 3, parts[n - 2] == "versions" { return .version(try pathId(Array(parts.dropLast(2))), parts[n - 1]) }
        return .app(try pathId(parts))
    }

    static func register(on router: Router<PacerRequestContext>, _ scheduler: Scheduler) {
        router.get("/v2/apps/**") { request, context in
            switch try target(context.parameters.getCatchAll().map(String.init)) {
            case .app(let id):
                guard let app = await scheduler.app(id) else { throw APIError.notFound("App '\(id)' does not exist") }
                let view = try await scheduler.viewForWaitingCaller()
                return try BulkJSON.app(view.embedded(app, embedTasks: true), request: request, live: view.tasks)
            case .tasks(let id):
                guard await scheduler.app(id) != nil else { throw APIError.notFound("App '\(id)' does not exist") }
                let view = try await scheduler.viewForWaitingCaller()
                return BulkJSON.tasks(view.taskGroups(of: id), request: request, scope: .part(of: view.tasks))
            case .versions(let id):
                return try JSONResponse.make(["versions": try await scheduler.versions(id).keys.sorted(by: >)])
            case .version(let id, let v):
                guard let app = try await scheduler.versions(id)[v] else {
                    throw APIError.notFound("App '\(id)' has no version \(v)")
                }
                return try JSONResponse.make(
                    RequestPrincipal.showsSecrets ? app : app.redactingSecrets(), encoder: request.encoder)
            case .task, .restart, .canary:
                throw APIError(status: 405, message: "method not allowed")
            }
        }
        router.put("/v2/apps/**") { request, context in try await update(request, context, scheduler) }
        router.patch("/v2/apps/**") { request, context in try await update(request, context, scheduler) }
        router.post("/v2/apps/**") { request, context in
            switch try target(context.parameters.getCatchAll().map(String.init)) {
            case .restart(let id):
                return try JSONResponse.make(try await scheduler.restart(id, force: try request.force))
            case .canary(let id):
                // Pacer's canaries: `?instances=N` tasks of the changed spec beside the app's own.
                let instances = request.uri.queryParameters.get("instances").flatMap { Int($0) } ?? 1
                let body = try await BodyReader.json(request)
                return try JSONResponse.make(
                    try await scheduler.canary(id, body: body, instances: instances, force: try request.force),
                    status: .created)
            default:
                throw APIError(status: 405, message: "POST a new app to /v2/apps")
            }
        }
        router.delete("/v2/apps/**") { request, context in
            switch try target(context.parameters.getCatchAll().map(String.init)) {
            case .app(let id):
                return try JSONResponse.make(try await scheduler.remove(id, force: try request.force))
            case .tasks(let id):
                guard await scheduler.app(id) != nil else { throw APIError.notFound("App '\(id)' does not exist") }
                let ids = await scheduler.view().taskIds(of: id, host: request.uri.queryParameters.get("host"))
                let (tasks, deployment) = try await scheduler.killTasks(ids, scale: try request.flag("scale"))
                if let deployment { return try JSONResponse.make(deployment) }
                return try JSONResponse.make(["tasks": tasks])
            case .task(let id, let taskId):
                guard await scheduler.view().tasks(of: id).contains(where: { $0.id == taskId }) else {
                    throw APIError.notFound("Task '\(taskId)' of app '\(id)' does not exist")
                }
                let (tasks, deployment) = try await scheduler.killTasks([taskId], scale: try request.flag("scale"))
                if let deployment { return try JSONResponse.make(deployment) }
                return try JSONResponse.make(["task": tasks.first])
            default:
                throw APIError(status: 405, message: "method not allowed")
            }
        }
    }

    static func update(_ request: Request, _ context: PacerRequestContext, _ scheduler: Scheduler) async throws -> Response {
        guard case .app(let id) = try target(context.parameters.getCatchAll().map(String.init)) else {
            throw APIError(status: 405, message: "method not allowed")
        }
        let body = try await BodyReader.json(request)
        let (created, result) = try await scheduler.update(id, body: body, force: try request.force)
        return try JSONResponse.make(result, status: created ? .created : .ok)
    }
}
