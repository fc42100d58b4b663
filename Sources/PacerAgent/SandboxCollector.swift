import Foundation
import Logging

/// Sandboxes of ended tasks are kept for their logs (`/files/*`, `pacer task logs`), then removed:
/// beyond `keep` of them the oldest go, and any older than `maxAge`. A sandbox of a task the agent
/// still holds is never touched.
struct SandboxCollector: Sendable {
    var keep = 100
    var maxAge: Double = 7 * 24 * 3600

    struct Sandbox: Equatable {
        var name: String
        var modified: Double
    }

    /// The sandboxes to remove, oldest first.
    func victims(_ sandboxes: [Sandbox], live: Set<String>, now: Double) -> [String] {
        let ended = sandboxes.filter { !live.contains($0.name) }.sorted { ($0.modified, $0.name) > ($1.modified, $1.name) }
        return ended.enumerated().filter { i, s in i >= keep || now - s.modified > maxAge }.map(\.element.name).reversed()
    }

    /// Lists `root`, removes what `victims` names; returns how many went.
    @discardableResult
    func collect(root: String, live: Set<String>, now: Double, logger: Logger) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let sandboxes = names.compactMap { name -> Sandbox? in
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: root + "/" + name),
                let date = attributes[.modificationDate] as? Date
            else { return nil }
            return Sandbox(name: name, modified: date.timeIntervalSince1970)
        }
        var removed = 0
        for name in victims(sandboxes, live: live, now: now) {
            do {
                try FileManager.default.removeItem(atPath: root + "/" + name)
                removed += 1
            } catch {
                logger.warning("could not remove an ended task's sandbox", metadata: ["task": "\(name)", "error": "\(error)"])
            }
        }
        return removed
    }
}
