import Foundation
import PacerAppsCore
import PacerModel

/// Marathon's AppUpdate: a PUT or PATCH body names only the fields it changes.
enum AppMerge {
    /// Keys that replace each other: setting one drops the stored other.
    static let exclusive: [String: [String]] = [
        "cmd": ["args"], "args": ["cmd"], "ports": ["portDefinitions"], "portDefinitions": ["ports"]
    ]

    static func merge(body: Data, onto previous: AppDefinition?, id: PathId) throws(APIError) -> AppDefinition {
        var update = try JSONBody.object(body)
        try AppDefinition.checkFields(update)
        // A null is "not given", as Marathon's AppUpdate reads it (clients that do not send a
        // minimal body send every unset field as null): the stored value stays.
        update = update.filter { !($0.value is NSNull) }
        if let given = update["id"] as? String, let givenId = try? PathId(validating: given), givenId != id {
            throw APIError.invalid([FieldError(path: "/id", "the id in the body (\(given)) differs from the URL's (\(id))")])
        }
        var base: [String: Any] = [:]
        if let previous, let data = try? WireJSON.marathonEncoder().encode(previous),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        {
            base = object
            for key in ["version", "versionInfo"] { base[key] = nil }
        }
        for key in update.keys { for other in exclusive[key] ?? [] { base[other] = nil } }
        base.merge(update) { _, new in new }
        base["id"] = id.description
        let merged: Data
        do { merged = try JSONSerialization.data(withJSONObject: base) } catch {
            throw APIError.badRequest("Invalid JSON: \(error)")
        }
        return try JSONBody.decode(AppDefinition.self, from: merged)
    }
}

/// One entry of `/v2/queue`, in Marathon's shape. Without Marathon 1.9's item-level `role`: the
/// app carries its role, and the `marathon` PyPI client (0.13) refuses a queue item with that key.
struct QueueItem: Encodable {
    var app: AppDefinition
    var count: Int
    var delay: LaunchDelayView
    var since: String
    var processedOffersSummary: OffersSummary

    struct LaunchDelayView: Encodable {
        var timeLeftSeconds: Int
        var overdue: Bool
    }
    struct OffersSummary: Encodable {
        var processedOffersCount: Int
        var unusedOffersCount: Int
    }

    init(_ q: AppsCore.Queued, now: Date) {
        app = q.app
        count = q.count
        let left = q.delay.map { max(0, Int($0.until.timeIntervalSince(Instant(now)).rounded(.up))) } ?? 0
        delay = LaunchDelayView(timeLeftSeconds: left, overdue: left == 0)
        since = Timestamp.string(q.since ?? q.app.version.flatMap(Timestamp.parse) ?? now)
        processedOffersSummary = OffersSummary(processedOffersCount: q.offers.processed, unusedOffersCount: q.offers.unused)
    }
}
