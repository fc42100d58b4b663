import Foundation
import Hummingbird
import NIOCore
import PacerAppsCore
import PacerModel
import PacerServerKit
import Synchronization

/// The answers that carry every task, written with `JSONBytes` instead of `JSONEncoder` (the
/// encoder's cost per task made `/v2/tasks` and `embed=apps.tasks` take seconds at 50,000 tasks).
enum BulkJSON {
    /// `{"tasks":[…]}`: the records in groups of one app's role; `scope`: all of them or which part.
    static func tasks(_ groups: [TaskGroup], request: Request, scope: TaskJSONCache.Scope) -> Response {
        var session = TaskJSONCache.shared.session(marathonOnly: !request.embedsPacer)
        let count = groups.reduce(0) { $0 + $1.records.count }
        session.reserve(count)
        var j = JSONBytes(capacity: 16 + count * 640)
        j.raw("{")
        j.key("tasks")
        j.raw("[")
        var first = true
        for g in groups { session.write(g.records, role: g.role, into: &j, first: &first) }
        j.raw("]}")
        TaskJSONCache.shared.finish(&session, scope)
        return response(j, headers: [:])
    }

    /// `{"apps":[…]}`: each app's status through the encoder, its tasks (if embedded) written here
    /// and put first in the object (key order carries no meaning in JSON; every other key keeps the
    /// encoder's sorted order). `scope`: every app there is with its tasks, or which part.
    static func apps(
        _ statuses: [EmbeddedStatus], request: Request, headers: HTTPFields, scope: TaskJSONCache.Scope
    ) throws -> Response {
        let encoder = request.encoder
        var session = TaskJSONCache.shared.session(marathonOnly: !request.embedsPacer)
        let count = statuses.reduce(0) { $0 + ($1.tasks?.count ?? 0) }
        session.reserve(count)
        var j = JSONBytes(capacity: statuses.count * 2048 + count * 640)
        j.raw("{")
        j.key("apps")
        j.raw("[")
        for (n, s) in statuses.enumerated() {
            if n > 0 { j.raw(",") }
            try object(s, encoder: encoder, session: &session, into: &j)
        }
        j.raw("]}")
        if statuses.contains(where: { $0.tasks != nil }) { TaskJSONCache.shared.finish(&session, scope) }
        return response(j, headers: headers)
    }

    /// `{"app":{…}}` (`GET /v2/apps/{id}`, which always embeds the app's tasks): load balancers
    /// fetch each app this way when its definition changes, a thousand of them while apps are
    /// posted, and through the encoder each cost 1.6 ms of the framework's CPU.
    static func app(_ status: EmbeddedStatus, request: Request, live: TaskTable) throws -> Response {
        var session = TaskJSONCache.shared.session(marathonOnly: !request.embedsPacer)
        var j = JSONBytes(capacity: 2048 + (status.tasks?.count ?? 0) * 640)
        j.raw("{")
        j.key("app")
        try object(status, encoder: request.encoder, session: &session, into: &j)
        j.raw("}")
        TaskJSONCache.shared.finish(&session, .part(of: live))
        return response(j, headers: [:])
    }

    /// One app's status as an object: its tasks (if embedded) first, then its spec as last encoded,
    /// then its counters. Keys are sorted within the spec (as the encoder sorts them), the status's
    /// own keys follow it: key order carries no meaning in JSON, and during placement every app's
    /// counters change between two polls while its spec does not — encoding the whole status again
    /// for each was most of what `/v2/apps` cost then.
    static func object(
        _ s: EmbeddedStatus, encoder: JSONEncoder, session: inout TaskJSONCache.Session, into j: inout JSONBytes
    ) throws {
        let status = s.status
        j.raw("{")
        if let tasks = s.tasks {
            j.key("tasks")
            j.raw("[")
            var first = true
            session.write(tasks, role: status.app.role, into: &j, first: &first)
            j.raw("],")
        }
        let spec = try cache.encoded(status.app, marathonOnly: session.marathonOnly) { try encoder.encode(status.app) }
        if spec.count > 2 {
            j.raw(spec.dropFirst().dropLast())
            j.raw(",")
        }
        j.key("deployments")
        j.raw("[")
        for (n, id) in status.deployments.enumerated() {
            if n > 0 { j.raw(",") }
            j.raw("{")
            j.key("id")
            j.string(id)
            j.raw("}")
        }
        j.raw("]")
        if let failure = status.lastTaskFailure {
            j.raw(",")
            j.key("lastTaskFailure")
            j.raw(try encoder.encode(failure))
        }
        for (key, value) in [
            ("tasksHealthy", status.tasksHealthy), ("tasksRunning", status.tasksRunning),
            ("tasksStaged", status.tasksStaged), ("tasksUnhealthy", status.tasksUnhealthy)
        ] as [(StaticString, Int)] {
            j.raw(",")
            j.key(key)
            j.int(value)
        }
        j.raw("}")
    }

    /// Apps' specs as last encoded: most apps are unchanged from one poll of `/v2/apps` to the
    /// next, and encoding a thousand of them took 150 ms (issue 12). An entry is used only for an
    /// equal spec (secrets redacted or not) in the same shape.
    private static let cache = SpecCache()

    private final class SpecCache: Sendable {
        private struct Key: Hashable {
            var app: PathId
            var marathonOnly: Bool
        }
        private let entries = Mutex<[Key: (spec: AppDefinition, json: Data)]>([:])
        /// A bound on entries: apps removed are not tracked; past this, the cache starts over.
        private static let limit = 20_000

        func encoded(_ spec: AppDefinition, marathonOnly: Bool, encode: () throws -> Data) rethrows -> Data {
            let key = Key(app: spec.id, marathonOnly: marathonOnly)
            if let hit = entries.withLock({ $0[key] }), hit.spec == spec { return hit.json }
            let json = try encode()
            entries.withLock {
                if $0.count >= Self.limit { $0 = [:] }
                $0[key] = (spec, json)
            }
            return json
        }
    }

    private static func response(_ j: JSONBytes, headers: HTTPFields) -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: .ok, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: j.bytes)))
    }
}
