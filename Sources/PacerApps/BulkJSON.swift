import Foundation
import Hummingbird
import NIOCore
import PacerModel
import PacerServerKit
import Synchronization

/// The answers that carry every task, written with `JSONBytes` instead of `JSONEncoder` (the
/// encoder's cost per task made `/v2/tasks` and `embed=apps.tasks` take seconds at 50,000 tasks).
enum BulkJSON {
    /// `{"tasks":[…]}`.
    static func tasks(_ tasks: [MarathonTask], request: Request) -> Response {
        var j = JSONBytes(capacity: 16 + tasks.count * 512)
        j.raw("{")
        j.key("tasks")
        j.raw(MarathonTask.jsonArray(tasks, marathonOnly: !request.embedsPacer).bytes)
        j.raw("}")
        return response(j, headers: [:])
    }

    /// `{"apps":[…]}`: each app's status through the encoder, its tasks (if embedded) written here
    /// and put first in the object (key order carries no meaning in JSON; every other key keeps the
    /// encoder's sorted order).
    static func apps(_ statuses: [AppStatus], request: Request, headers: HTTPFields) throws -> Response {
        let encoder = request.encoder
        let marathonOnly = !request.embedsPacer
        var j = JSONBytes(capacity: statuses.count * 2048)
        j.raw("{")
        j.key("apps")
        j.raw("[")
        for (n, status) in statuses.enumerated() {
            if n > 0 { j.raw(",") }
            j.raw(try object(status, encoder: encoder, marathonOnly: marathonOnly))
        }
        j.raw("]}")
        return response(j, headers: headers)
    }

    /// One app's status as an object, its tasks written by hand.
    static func object(_ status: AppStatus, encoder: JSONEncoder, marathonOnly: Bool) throws -> [UInt8] {
        var rest = status
        rest.tasks = nil
        let encoded = try cache.encoded(rest, marathonOnly: marathonOnly) { try encoder.encode(rest) }
        guard let tasks = status.tasks, encoded.count > 2 else { return Array(encoded) }
        var j = JSONBytes(capacity: encoded.count + tasks.count * 512)
        j.raw("{")
        j.key("tasks")
        j.raw(MarathonTask.jsonArray(tasks, marathonOnly: marathonOnly).bytes)
        j.raw(",")
        j.raw(encoded.dropFirst())
        return j.bytes
    }

    /// Apps' statuses (without tasks) as last encoded: most apps are unchanged from one poll of
    /// `/v2/apps` to the next, and encoding a thousand of them took 150 ms (issue 12). An entry is
    /// used only for an equal status (spec, counters, deployments, last failure) in the same shape.
    private static let cache = StatusCache()

    private final class StatusCache: Sendable {
        private struct Key: Hashable {
            var app: PathId
            var marathonOnly: Bool
        }
        private let entries = Mutex<[Key: (status: AppStatus, json: Data)]>([:])
        /// A bound on entries: apps removed are not tracked; past this, the cache starts over.
        private static let limit = 20_000

        func encoded(_ status: AppStatus, marathonOnly: Bool, encode: () throws -> Data) rethrows -> Data {
            let key = Key(app: status.app.id, marathonOnly: marathonOnly)
            if let hit = entries.withLock({ $0[key] }), hit.status == status { return hit.json }
            let json = try encode()
            entries.withLock {
                if $0.count >= Self.limit { $0 = [:] }
                $0[key] = (status, json)
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
