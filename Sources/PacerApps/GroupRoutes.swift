import Foundation
import Hummingbird
import PacerModel
import PacerServerKit

/// `/v2/groups[/{id}][/versions[/{version}]]`: Marathon's group API. Group ids contain slashes, so
/// the path is split by its known suffixes, as for apps.
enum GroupRoutes {
    enum Target {
        case group(PathId)
        case versions(PathId)
        case version(PathId, String)
    }

    static func target(_ parts: [String]) throws(APIError) -> Target {
        func id(_ p: ArraySlice<String>) throws(APIError) -> PathId {
            do { return try PathId(group: p.joined(separator: "/")) } catch { throw .invalid([error]) }
        }
        let n = parts.count
        if n >= 1, parts[n - 1] == "versions" { return .versions(try id(parts.dropLast())) }
        if n >= 2, parts[n - 2] == "versions" { return .version(try id(parts.dropLast(2)), parts[n - 1]) }
        return .group(try id(parts[...]))
    }

    static func register(on router: Router<PacerRequestContext>, _ scheduler: Scheduler) {
        let get: @Sendable (Request, PacerRequestContext) async throws -> Response = { request, context in
            let target = try target(context.parameters.getCatchAll().map(String.init))
            switch target {
            case .group(let id), .versions(let id), .version(let id, _): try RequestPrincipal.requireRead([id])
            }
            switch target {
            case .group(let id):
                guard let view = await scheduler.groupView(id) else { throw APIError.notFound("Group '\(id)' does not exist") }
                return try JSONResponse.make(view, encoder: request.encoder)
            case .versions(let id):
                guard await scheduler.groupView(id) != nil else { throw APIError.notFound("Group '\(id)' does not exist") }
                return try JSONResponse.make(try await scheduler.groupVersions(id))
            case .version(let id, let version):
                guard let data = try await scheduler.groupVersion(id, version) else {
                    throw APIError.notFound("Group '\(id)' has no version \(version)")
                }
                // Stored in Pacer's full form; answered in the caller's.
                guard let object = try? JSONSerialization.jsonObject(with: data) else {
                    throw APIError(status: 500, message: "stored group version \(version) is not JSON")
                }
                let shaped = request.embedsPacer ? object : marathonShape(object)
                let body = try JSONSerialization.data(withJSONObject: shaped, options: [.sortedKeys, .withoutEscapingSlashes])
                return Response(
                    status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(bytes: body)))
            }
        }
        router.get("/v2/groups") { request, context in try await get(request, context) }
        router.get("/v2/groups/**") { request, context in try await get(request, context) }
        router.post("/v2/groups") { request, _ in
            let spec = try GroupSpec.request(from: try await BodyReader.json(request), at: nil)
            try RequestPrincipal.requireChange([spec.id] + spec.allApps.map(\.id))
            return try JSONResponse.make(try await scheduler.createGroup(spec, force: try request.force), status: .created)
        }
        let put: @Sendable (Request, PacerRequestContext) async throws -> Response = { request, context in
            switch try target(context.parameters.getCatchAll().map(String.init)) {
            case .group(let id):
                let spec = try GroupSpec.request(from: try await BodyReader.json(request), at: id)
                try RequestPrincipal.requireChange([spec.id] + spec.allApps.map(\.id))
                return try JSONResponse.make(try await scheduler.updateGroup(spec, force: try request.force))
            case .version(let id, let version):
                // The older client form of a rollback (the marathon PyPI client's rollback_group).
                try RequestPrincipal.requireChange([id])
                return try JSONResponse.make(try await scheduler.revertGroup(id, to: version, force: try request.force))
            case .versions:
                throw APIError(status: 405, message: "PUT a group, or a version of it")
            }
        }
        router.put("/v2/groups") { request, context in try await put(request, context) }
        router.put("/v2/groups/**") { request, context in try await put(request, context) }
        let delete: @Sendable (Request, PacerRequestContext) async throws -> Response = { request, context in
            guard case .group(let id) = try target(context.parameters.getCatchAll().map(String.init)) else {
                throw APIError(status: 405, message: "DELETE a group")
            }
            try RequestPrincipal.requireChange([id])
            return try JSONResponse.make(try await scheduler.removeGroup(id, force: try request.force))
        }
        router.delete("/v2/groups") { request, context in try await delete(request, context) }
        router.delete("/v2/groups/**") { request, context in try await delete(request, context) }
    }

    /// A stored group without Pacer's app fields (what Marathon's clients accept).
    static func marathonShape(_ value: Any) -> Any {
        guard var group = value as? [String: Any] else { return value }
        if let apps = group["apps"] as? [[String: Any]] {
            group["apps"] = apps.map { $0.filter { !AppDefinition.pacerFields.contains($0.key) || $0.key == "role" } }
        }
        if let groups = group["groups"] as? [Any] { group["groups"] = groups.map(marathonShape) }
        return group
    }
}
